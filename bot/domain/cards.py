"""Card numbers never enter the records (PCI DSS 4.2.2): detect them (Luhn) and redact them."""
from __future__ import annotations

import re

_CARD_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,40}\d(?!\d)")
CARD_REDACTION = "[card number removed]"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _has_card_number(run: str) -> bool:
    digits = re.sub(r"\D", "", run)
    if 13 <= len(digits) <= 19:
        return luhn_ok(digits)
    # Longer runs: digits typed right before or after a card number (an expiry, a count) joined it.
    lengths = range(13, min(len(digits), 19) + 1)
    return any(luhn_ok(digits[:n]) or luhn_ok(digits[-n:]) for n in lengths)


def contains_card_number(text: str) -> bool:
    return any(_has_card_number(m.group(0)) for m in _CARD_CANDIDATE.finditer(text or ""))


def redact_card_numbers(text: str) -> str:
    """Luhn-valid runs of 13-19 digits (spaces and dashes allowed) are replaced."""
    return _CARD_CANDIDATE.sub(lambda m: CARD_REDACTION if _has_card_number(m.group(0)) else m.group(0), text or "")


# What a channel hands Rasa instead of a message with a card number: the intent alone, no digits.
CARD_SHARED_PAYLOAD = "/EXTERNAL_card_number_shared"


def screen_card_numbers(text: str) -> str:
    """A message with a card number never reaches NLU, the tracker or the logs: only the fact does."""
    return CARD_SHARED_PAYLOAD if contains_card_number(text) else text
