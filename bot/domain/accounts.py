"""The facts the whole product shares about creditors, consumers and their accounts.

Plain frozen dataclasses: the ledger adapter builds them, actions and services read them. Nothing
here knows about SQL, YAML or Rasa.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional, Tuple

from bot.domain.disputes import DISPUTE_NOTICES
from bot.domain.money import Money

CHANNELS = ("sms", "whatsapp", "webchat")
ROLES = ("first_party", "agency")
FREQUENCIES = ("weekly", "biweekly", "monthly")
EXTENSION_POLICIES = ("none", "proof_required", "agent")
ENTRY_KINDS = ("charge", "payment", "credit", "adjustment", "interest", "fee")
# Rasa's REST channel is an integration door to web chat, so web chat policy governs it.
_CHANNEL_ALIASES = {"rest": "webchat"}


class AccountNotFound(LookupError):
    """No account has the reference asked for."""


class ConsumerNotFound(LookupError):
    """No consumer has the id asked for."""


def account_ref_key(text: str) -> str:
    """The comparable form of an account reference: 'bw10001', 'BW-10001', 'bw 10001' are one key."""
    return "".join(ch for ch in (text or "") if ch.isascii() and ch.isalnum()).upper()


def default_channels(role: str) -> Tuple[str, ...]:
    """Carrier and WhatsApp policies bar third-party collectors from messaging: agencies get web chat."""
    return ("webchat",) if role == "agency" else CHANNELS


@dataclass(frozen=True)
class CreditorPolicy:
    """What a creditor lets the bot offer without asking a person."""

    plans_allowed: bool = False
    max_installments: int = 1
    min_installment: Optional[Money] = None
    frequencies: Tuple[str, ...] = ()
    settlement_floor_percent: Optional[int] = None  # None: no settlements
    promise_max_days: int = 14
    extension_policy: str = "agent"
    min_partial_payment: Optional[int] = None  # minor units of the creditor's currency
    currency: str = "USD"  # the currency the policy's amounts are in
    # Extra information given with a dispute (bot.domain.disputes.DISPUTE_NOTICES); never refuses one.
    dispute_notice: Optional[str] = None

    def __post_init__(self) -> None:
        unknown = set(self.frequencies) - set(FREQUENCIES)
        if unknown:
            raise ValueError(f"unknown plan frequencies: {sorted(unknown)}")
        if self.extension_policy not in EXTENSION_POLICIES:
            raise ValueError(f"extension_policy must be one of {EXTENSION_POLICIES}")
        if self.dispute_notice is not None and self.dispute_notice not in DISPUTE_NOTICES:
            raise ValueError(f"dispute_notice must be one of {DISPUTE_NOTICES}")

    @property
    def settlements_allowed(self) -> bool:
        return self.settlement_floor_percent is not None


@dataclass(frozen=True)
class Creditor:
    """Who is owed, in which role it collects, and where it may contact consumers."""

    id: str
    name: str
    role: str
    channels: Optional[Tuple[str, ...]] = None  # None: the default for the role
    policy: CreditorPolicy = field(default_factory=CreditorPolicy)
    original_creditor: Optional[str] = None
    collector_name: Optional[str] = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        channels = default_channels(self.role) if self.channels is None else tuple(self.channels)
        unknown = set(channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels: {sorted(unknown)}")
        object.__setattr__(self, "channels", channels)

    @property
    def is_agency(self) -> bool:
        return self.role == "agency"

    def allows_channel(self, channel: str) -> bool:
        """Whether the bot may talk about this creditor's accounts on `channel` ('rest' is web chat)."""
        return _CHANNEL_ALIASES.get(channel, channel) in (self.channels or ())


@dataclass(frozen=True)
class Consumer:
    """A person with accounts. Date of birth and ZIP stay in the ledger: they never travel."""

    id: int
    first_name: str
    last_name: str
    phone: str
    email: Optional[str]
    language: str
    timezone: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class LineItem:
    """One placed item of the debt: what the consumer was billed for."""

    date: date
    reference: str
    description: str
    amount: Money


@dataclass(frozen=True)
class LedgerEntry:
    """One posted movement. Signed: charges, interest and fees positive; payments and credits negative."""

    kind: str
    amount: Money
    posted_at: datetime
    reference: Optional[str] = None
    description: Optional[str] = None

    def __post_init__(self) -> None:
        if self.kind not in ENTRY_KINDS:
            raise ValueError(f"kind must be one of {ENTRY_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Hold:
    """An amount that must not be collected for now (a dispute under research)."""

    id: int
    amount: Money
    reason: str
    created_at: datetime
    released_at: Optional[datetime] = None


@dataclass(frozen=True)
class Statement:
    """Everything a verified consumer may be told about one account, as of now."""

    account_ref: str
    creditor: Creditor
    consumer: Consumer
    currency: str
    balance: Money
    status: str
    due_since: Optional[date]
    line_items: Tuple[LineItem, ...]
    payments_and_credits: Tuple[LedgerEntry, ...]
    interest_and_fees: Money
    holds: Tuple[Hold, ...]  # active holds only
    placed_at: Optional[datetime] = None
    flags: Tuple[str, ...] = ()  # e.g. cease_communication, bankruptcy, attorney, deceased

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def held(self) -> Money:
        """The total on hold; collection must leave it alone."""
        total = Money.zero(self.currency)
        for hold in self.holds:
            total = total + hold.amount
        return total

    @property
    def collectible(self) -> Money:
        """The balance that payment requests may ask for: balance less holds, never below zero."""
        rest = self.balance - self.held
        return rest if rest.minor > 0 else Money.zero(self.currency)
