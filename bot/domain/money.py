"""Money as integer minor units plus an ISO 4217 currency.

Floats never enter: amounts are parsed from decimal text into integers and all arithmetic stays
integral. Formatting for people is Babel's job (bot.i18n), not this module's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Tuple

# ISO 4217 minor-unit exponents that differ from the usual 2.
_MINOR_DIGITS = {
    **dict.fromkeys(
        ("JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX", "RWF", "KMF", "GNF", "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "KWD", "JOD", "OMR", "TND", "IQD", "LYD"), 3),
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


def minor_digits(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 unless the built-in table says otherwise)."""
    return _MINOR_DIGITS.get(currency, 2)


def known_minor_digits(currency: str) -> bool:
    """Whether the built-in table lists the currency (most currencies use the default instead)."""
    return currency in _MINOR_DIGITS


def _check_currency(currency: str) -> None:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ValueError(f"currency must be three uppercase letters (ISO 4217), got {currency!r}")


@dataclass(frozen=True)
class Money:
    """An exact amount: `minor` units (cents for USD) of `currency`."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money.minor must be an int, got {type(self.minor).__name__}")
        _check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> "Money":
        """Read a decimal string in major units ("12.50") exactly; reject what cannot be exact."""
        _check_currency(currency)
        cleaned = (text or "").strip()
        if not _DECIMAL.match(cleaned):
            raise ValueError(f"{text!r} is not a number (expected digits with an optional '.', e.g. 12.50)")
        digits = minor_digits(currency)
        fraction = cleaned.partition(".")[2]
        if len(fraction) > digits:
            allowed = "no decimal places" if digits == 0 else f"at most {digits} decimal places"
            raise ValueError(f"{text!r} has more decimals than {currency} allows ({allowed})")
        return cls(int(Decimal(cleaned).scaleb(digits)), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units with the currency's exponent (Decimal('12.50'))."""
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))

    def is_zero(self) -> bool:
        return self.minor == 0

    def split(self, parts: int) -> Tuple["Money", ...]:
        """Split into `parts` amounts that differ by at most one minor unit and sum exactly."""
        if parts < 1:
            raise ValueError("parts must be at least 1")
        base, remainder = divmod(self.minor, parts)
        return tuple(Money(base + (1 if i < remainder else 0), self.currency) for i in range(parts))

    def _same(self, other: object) -> "Money":
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot mix currencies {self.currency} and {other.currency}")
        return other

    def __add__(self, other: "Money") -> "Money":
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.minor, self.currency)

    def __abs__(self) -> "Money":
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: "Money") -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: "Money") -> bool:
        return self.minor <= self._same(other).minor

    def __gt__(self, other: "Money") -> bool:
        return self.minor > self._same(other).minor

    def __ge__(self, other: "Money") -> bool:
        return self.minor >= self._same(other).minor

    def __str__(self) -> str:
        """For logs and operators only; consumers see Babel formatting."""
        return f"{self.currency} {self.to_decimal()}"
