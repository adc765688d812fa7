import pytest

from bot.domain.channels import policy_channel
from bot.domain.identity import is_e164, parse_account_ref, parse_postal_code, phone_from_address


@pytest.mark.parametrize(
    "text, expected",
    [
        ("94110", "94110"),
        ("zip is 94110-1234", "94110"),  # ZIP+4 reads as the five-digit ZIP
        ("00907", "00907"),  # leading zeros kept (Puerto Rico)
        ("3/4/85 94110", "94110"),  # next to a date
        ("BW-10001", None),  # an account reference is not a ZIP
        ("03041985", None),  # nor eight digits of a date
        ("call 4155550101", None),  # nor part of a phone number
    ],
)
def test_postal_codes(text, expected):
    assert parse_postal_code(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("acct bw10001 pls", "BW-10001"),  # lowercase without the dash
        ("my ref is CHP-30002", "CHP-30002"),
        ("zip is 94110", None),  # a word before a number is not a reference
    ],
)
def test_account_references(text, expected):
    assert parse_account_ref(text) == expected


def test_phone_addresses():
    assert is_e164("+14155550101")
    assert not is_e164("4155550101")
    assert phone_from_address("whatsapp:+14155550101") == "+14155550101"
    assert phone_from_address("web-abc123") is None


@pytest.mark.parametrize(
    "channel, expected",
    [("rest", "webchat"), ("socketio", "webchat"), ("sms", "sms"), ("whatsapp", "whatsapp"), (None, "webchat")],
)
def test_policy_channels(channel, expected):
    assert policy_channel(channel) == expected
