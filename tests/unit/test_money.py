"""Money: exact integer minor units, one currency at a time."""
from decimal import Decimal

import pytest

from bot.domain.money import Money, minor_digits


@pytest.mark.parametrize(
    "currency, digits",
    [
        ("USD", 2),  # the default
        ("EUR", 2),
        ("JPY", 0),  # no minor unit
        ("KRW", 0),
        ("BHD", 3),  # fils: thousandths
        ("KWD", 3),
        ("JOD", 3),
        ("OMR", 3),
        ("TND", 3),
        ("XYZ", 2),  # unknown codes fall back to 2
    ],
)
def test_minor_digits(currency, digits):
    assert minor_digits(currency) == digits


@pytest.mark.parametrize(
    "text, currency, minor",
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),  # fewer decimals than allowed
        ("7", "USD", 700),  # no decimals at all
        ("0.01", "USD", 1),
        (" 1234.56 ", "USD", 123456),  # surrounding spaces
        ("-3.25", "USD", -325),  # signed
        ("+3", "USD", 300),
        (".5", "USD", 50),
        ("1500", "JPY", 1500),
        ("1.234", "BHD", 1234),
        ("999999999999.99", "USD", 99999999999999),  # large, exact
        ("0.10", "USD", 10),
    ],
)
def test_parse(text, currency, minor):
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    "text, currency, fragment",
    [
        ("12.345", "USD", "more decimals than USD allows"),
        ("1.5", "JPY", "more decimals than JPY allows (no decimal places)"),
        ("1.2345", "BHD", "at most 3 decimal places"),
        ("12.500", "USD", "more decimals"),  # strict: decimals beyond the currency are refused
        ("abc", "USD", "not a number"),
        ("", "USD", "not a number"),
        ("1,234.56", "USD", "not a number"),  # no thousands separators
        ("$12", "USD", "not a number"),
        ("1e3", "USD", "not a number"),
        ("NaN", "USD", "not a number"),
        ("1 2", "USD", "not a number"),
    ],
)
def test_parse_rejects(text, currency, fragment):
    with pytest.raises(ValueError) as error:
        Money.parse(text, currency)
    assert fragment in str(error.value)


def test_parse_rejects_bad_currency():
    with pytest.raises(ValueError, match="three uppercase letters"):
        Money.parse("1.00", "usd")


def test_construction_checks_types():
    with pytest.raises(TypeError):
        Money(12.5, "USD")  # a float never becomes money
    with pytest.raises(TypeError):
        Money(True, "USD")
    with pytest.raises(ValueError):
        Money(100, "US")


def test_arithmetic_within_one_currency():
    a, b = Money(1050, "USD"), Money(325, "USD")
    assert a + b == Money(1375, "USD")
    assert a - b == Money(725, "USD")
    assert b - a == Money(-725, "USD")
    assert -a == Money(-1050, "USD")
    assert abs(Money(-5, "USD")) == Money(5, "USD")
    assert Money.zero("EUR") == Money(0, "EUR")
    assert Money.zero("EUR").is_zero()


def test_comparison_within_one_currency():
    small, large = Money(1, "USD"), Money(2, "USD")
    assert small < large and small <= large and large > small and large >= small
    assert small <= Money(1, "USD") and small >= Money(1, "USD")
    assert sorted([large, small]) == [small, large]


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_raises(operation):
    with pytest.raises(ValueError, match="cannot mix currencies USD and EUR"):
        operation(Money(100, "USD"), Money(100, "EUR"))


def test_equality_across_currencies_is_false_not_an_error():
    assert Money(100, "USD") != Money(100, "EUR")


def test_combining_with_a_number_raises():
    with pytest.raises(TypeError):
        Money(100, "USD") + 1


def test_to_decimal_keeps_the_exponent():
    assert Money(1250, "USD").to_decimal() == Decimal("12.50")
    assert str(Money(1250, "USD").to_decimal()) == "12.50"
    assert str(Money(5, "USD").to_decimal()) == "0.05"
    assert str(Money(-5, "USD").to_decimal()) == "-0.05"
    assert str(Money(1500, "JPY").to_decimal()) == "1500"
    assert str(Money(1234, "KWD").to_decimal()) == "1.234"


def test_parse_and_to_decimal_round_trip():
    for text in ("0.00", "0.01", "19.99", "4325.00", "5431.40"):
        assert str(Money.parse(text, "USD").to_decimal()) == text


def test_split_sums_exactly():
    parts = Money(10000, "USD").split(3)
    assert parts == (Money(3334, "USD"), Money(3333, "USD"), Money(3333, "USD"))
    assert sum((p.minor for p in parts), 0) == 10000
    assert Money(7, "USD").split(1) == (Money(7, "USD"),)
    with pytest.raises(ValueError):
        Money(7, "USD").split(0)


def test_money_is_immutable_and_hashable():
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.minor = 5
    assert {money, Money(100, "USD")} == {money}


def test_str_is_for_operators():
    assert str(Money(77500, "USD")) == "USD 775.00"
