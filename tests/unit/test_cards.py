import pytest

from bot.domain.cards import CARD_SHARED_PAYLOAD, contains_card_number, screen_card_numbers


@pytest.mark.parametrize(
    "text, is_card",
    [
        ("4242 4242 4242 4242", True),  # spaced Visa test number
        ("my card 4000-0000-0000-0002 exp 12/29", True),  # dashes, with an expiry after
        ("4242424242424241", False),  # fails the Luhn check
        ("call me at 4155550101", False),  # a phone number
        ("my ref is BW-10001 and zip 94110", False),  # short numbers
    ],
)
def test_card_numbers_are_recognised_by_luhn(text, is_card):
    assert contains_card_number(text) is is_card
    assert (screen_card_numbers(text) == CARD_SHARED_PAYLOAD) is is_card
