"""Amounts the way consumers type them: "$50", "50 bucks", "1,250.00", "half", "all of it", "la mitad"."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Optional

from bot.domain.money import Money, minor_digits

_NUMBER = re.compile(r"(?<![\w/.-])\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?![\w/-]|\.\d)")
_ALL = ("all of it", "all", "everything", "in full", "full", "whole", "entire", "total", "todo", "completo",
        "toda la deuda", "todo el saldo")
_HALF = ("half", "la mitad", "mitad")


def parse_amount(text: str, currency: str, whole: Optional[Money] = None) -> Optional[Money]:
    """An amount in `text`, in `currency`; "all"/"half" need `whole` (what is owed) to mean anything.

    Numbers that are part of dates ("3/4") or references ("BW-10001") are not amounts.
    """
    lowered = (text or "").lower()
    match = _NUMBER.search(lowered)
    if match:
        return _money(match.group(1).replace(",", ""), match.group(2), currency)
    if whole is not None and _mentions(lowered, _HALF):
        return Money(-(-whole.minor // 2), currency)  # rounded up to the minor unit
    if whole is not None and _mentions(lowered, _ALL):
        return whole
    return None


def _mentions(text: str, phrases) -> bool:
    return any(re.search(rf"\b{re.escape(phrase)}\b", text) for phrase in phrases)


def _money(units: str, cents: Optional[str], currency: str) -> Optional[Money]:
    digits = minor_digits(currency)
    fraction = (cents or "").ljust(digits, "0")[:digits] if digits else ""
    try:
        value = Decimal(f"{units}.{fraction}" if fraction else units)
    except InvalidOperation:
        return None
    return Money(int(value.scaleb(digits)), currency)
