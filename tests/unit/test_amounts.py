import pytest

from bot.domain.amounts import parse_amount
from bot.domain.money import Money

OWED = Money(77500, "USD")


@pytest.mark.parametrize(
    "text, minor",
    [
        ("$50", 5000),  # dollar sign
        ("50 bucks", 5000),  # slang
        ("i can pay 100 now", 10000),  # inside a sentence
        ("$1,250.00", 125000),  # thousands separator and cents
        ("25.5", 2550),  # one decimal
        ("50 dolares", 5000),  # Spanish
        ("half", 38750),  # half of what is owed
        ("la mitad", 38750),  # Spanish half
        ("all of it", 77500),  # everything owed
        ("pay it in full", 77500),
        ("todo", 77500),
    ],
)
def test_amounts_as_people_type_them(text, minor):
    assert parse_amount(text, "USD", OWED) == Money(minor, "USD")


@pytest.mark.parametrize(
    "text",
    [
        "next friday",  # no amount
        "3/4/85",  # a date
        "BW-10001",  # a reference
        "half",  # half of nothing known
    ],
)
def test_not_amounts(text):
    assert parse_amount(text, "USD", None if text == "half" else OWED) is None


def test_half_rounds_up_to_the_cent():
    assert parse_amount("half", "USD", Money(101, "USD")) == Money(51, "USD")
