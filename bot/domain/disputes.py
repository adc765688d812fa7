"""Disputes and special circumstances: the rules, in plain Python (journeys 9-13).

A dispute typed into the bot is a written dispute (Reg F 1006.38): it is always taken, whatever the
creditor, and collection of the disputed amount stops until an agent records verification. Account
flags stop collection of the whole account at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from bot.domain.dates import MONTHS, parse_date
from bot.domain.money import Money

DISPUTE_REASONS = ("not_mine", "wrong_amount", "already_paid", "service", "fraud", "other")
DISPUTE_STATUSES = ("open", "upheld", "verified", "withdrawn")
OPEN_STATUSES = ("open",)
# Flags that stop every collection message on the account (journey 13).
ACCOUNT_FLAGS = ("bankruptcy", "attorney", "deceased", "cease_communication")
STOP_FLAGS = ACCOUNT_FLAGS
# Notices a creditor may add to what the consumer hears about a dispute (creditors.yml dispute_notice);
# each is a response (actions/disputes.py NOTICE_RESPONSES).
DISPUTE_NOTICES = ("released_payments",)

# The intent a consumer used, and the reason it records.
REASON_BY_INTENT = {
    "dispute_not_mine": "not_mine",
    "dispute_amount": "wrong_amount",
    "dispute_service": "service",
    "claim_already_paid": "already_paid",
    "dispute_debt": "other",
}
# Identity theft is said with not-mine words; these mark it as fraud (English and Spanish).
FRAUD_WORDS = ("fraud", "identity theft", "stole", "stolen", "scam", "fraude", "robo de identidad", "robaron",
               "suplant", "estafa")
FLAG_BY_INTENT = {
    "bankruptcy": "bankruptcy",
    "attorney_represented": "attorney",
    "deceased": "deceased",
    "cease_communication": "cease_communication",
}

# Handoff priorities: higher is taken first. Fraud and special circumstances before other disputes.
PRIORITY_DISPUTE = 2
PRIORITY_FRAUD = 3
PRIORITY_SPECIAL = 3
PRIORITY_PAYMENT_CLAIM = 2
PRIORITY_HARDSHIP = 1
PRIORITY_EXTENSION = 1

# What the consumer is told: an agent looks into it within this many business days.
RESEARCH_BUSINESS_DAYS = 5


def dispute_reason(intent: Optional[str], text: str = "", kind: Optional[str] = None) -> str:
    """The reason a dispute records: an explicit kind (a button), else the intent, with fraud words
    turning "not mine" into fraud."""
    if kind in DISPUTE_REASONS:
        return kind
    reason = REASON_BY_INTENT.get(intent or "", "other")
    lowered = (text or "").lower()
    if reason in ("not_mine", "other") and any(word in lowered for word in FRAUD_WORDS):
        return "fraud"
    return reason


def handoff_priority(reason: str) -> int:
    return PRIORITY_FRAUD if reason == "fraud" else PRIORITY_DISPUTE


def add_business_days(start: date, days: int) -> date:
    """`days` working days (Monday-Friday) after `start`."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def disputed_amount(balance: Money, named: Optional[Money]) -> Money:
    """The amount to hold: what the consumer names, if it is positive and within the balance; else
    the whole balance (a dispute is never narrowed against the consumer)."""
    if named is None or named.currency != balance.currency or named.minor <= 0 or named > balance:
        return balance if balance.minor > 0 else Money.zero(balance.currency)
    return named


def upheld_adjustment(disputed: Money, balance: Money) -> Money:
    """The credit an upheld dispute posts: the disputed amount, never more than is still owed."""
    minor = max(0, min(disputed.minor, balance.minor))
    return Money(minor, disputed.currency)


@dataclass(frozen=True)
class Dispute:
    """One recorded dispute, as agents and the consumer's status question see it."""

    id: int
    account_ref: str
    conversation_id: str
    channel: str
    reason: str
    consumer_words: str
    amount: Money
    status: str
    opened_at: datetime
    resolved_at: Optional[datetime] = None
    resolution_note: Optional[str] = None
    agent: Optional[str] = None
    hold_id: Optional[int] = None
    handoff_id: Optional[int] = None

    def __post_init__(self) -> None:
        if self.reason not in DISPUTE_REASONS:
            raise ValueError(f"reason must be one of {DISPUTE_REASONS}, got {self.reason!r}")
        if self.status not in DISPUTE_STATUSES:
            raise ValueError(f"status must be one of {DISPUTE_STATUSES}, got {self.status!r}")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def answer_by(self) -> date:
        """The day by which the consumer hears back (what the bot promises when it is opened)."""
        return add_business_days(self.opened_at.date(), RESEARCH_BUSINESS_DAYS)


@dataclass(frozen=True)
class PaymentClaim:
    """"I already paid": what the consumer says about a payment the ledger does not show."""

    id: int
    account_ref: str
    paid_on: Optional[date]
    amount: Optional[Money]
    method: Optional[str]
    consumer_words: str
    handoff_id: Optional[int]
    recorded_at: datetime


# Words that say the amount next to them is the one disputed ("they charged me $50 twice"), as
# opposed to what the consumer thinks they owe ("I only owe $50": then the whole balance is held).
_DISPUTED_AMOUNT_WORDS = ("disput", "overcharg", "charged", "extra", "twice", "double", "wrong", "de más", "demás",
                          "cobraron", "cobrado", "incorrect", "no reconozco", "don't recognize", "dont recognize")
_OWED_WORDS = ("only owe", "should be", "debería ser", "solo debo", "sólo debo", "debo solo")
_MONEY = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s*(?:dollars|bucks|d[oó]lares|usd)\b")
_DAYS_AGO = re.compile(r"\b(\d{1,2})\s+(?:days?\s+ago)\b|\bhace\s+(\d{1,2})\s+d[ií]as?\b")


def names_disputed_amount(text: str) -> bool:
    """Whether an amount in `text` is the amount the consumer disputes (not what they say they owe)."""
    lowered = (text or "").lower()
    return any(w in lowered for w in _DISPUTED_AMOUNT_WORDS) and not any(w in lowered for w in _OWED_WORDS)


def parse_past_date(text: str, today: date) -> Optional[date]:
    """When a payment was made: "11/2/2026", "November 2", "yesterday", "3 days ago", "ayer"; never future."""
    lowered = (text or "").lower()
    if re.search(r"\b(today|hoy)\b", lowered):
        return today
    if re.search(r"\b(yesterday|ayer)\b", lowered):
        return today - timedelta(days=1)
    ago = _DAYS_AGO.search(lowered)
    if ago:
        return today - timedelta(days=int(ago.group(1) or ago.group(2)))
    lowered = _MONEY.sub(" ", lowered)  # "$50 on november 2": 50 is not a year
    has_year = re.search(r"\b\d{4}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2}\b", lowered)
    found = parse_date(lowered, today=today) if has_year else _month_day(lowered, today)
    return found if found is not None and found <= today else None


def _month_day(text: str, today: date) -> Optional[date]:
    """"November 2" / "2 de noviembre" / "11/2" without a year: the latest such day not after today."""
    tokens = re.findall(r"[a-záéíóúñ]+|\d+", text)
    month = day = None
    for token in tokens:
        if token in MONTHS and month is None:
            month = MONTHS[token]
        elif token.isdigit() and 1 <= int(token) <= 31 and day is None:
            day = int(token)
    numeric = re.search(r"\b(\d{1,2})/(\d{1,2})\b", text)
    if month is None and numeric:
        month, day = int(numeric.group(1)), int(numeric.group(2))
    if month is None or day is None:
        return None
    for year in (today.year, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate <= today:
            return candidate
    return None
