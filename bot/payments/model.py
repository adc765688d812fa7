"""What the payments service returns and raises: plain frozen dataclasses and exceptions.

Actions read these and pass the values, formatted by Babel, to response templates; nothing here
holds text for consumers. Reason codes (PaymentRefused.reason, ...) are stable identifiers the
conversation maps to responses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional, Tuple

from bot.domain.disputes import STOP_FLAGS  # account flags that stop collection at once (journey 13)
from bot.domain.money import Money
from bot.domain.plans import Installment, Settlement

# Notification event names (the `payment_event` entity of EXTERNAL_payment_outcome).
EVENT_SUCCEEDED = "payment_succeeded"
EVENT_FAILED = "payment_failed"
EVENT_REFUNDED = "payment_refunded"
EVENT_REVERSED = "payment_reversed"  # chargeback
EVENT_PLAN_SETUP = "plan_setup_complete"
EVENT_PLAN_BROKEN = "plan_broken"
EVENT_LINK_READY = "payment_link_ready"  # a page the gateway could not create at first is ready now


@dataclass(frozen=True)
class RetryPolicy:
    """How the scheduler treats installments (defaults; creditors.yml has no keys for these yet).

    A failed installment is retried `max_retries` times, `retry_after_days` apart; an installment
    whose retries all fail is a miss, and `misses_to_break` misses break the plan (its remaining
    installments are cancelled and the consumer is told). Installments are charged at
    `charge_hour_local` on their due date in the consumer's time zone. A claim older than
    `stale_claim_minutes` (a scheduler that died mid-charge) is taken over with the SAME idempotency
    key, so the gateway replays instead of charging again.
    """

    retry_after_days: int = 3
    max_retries: int = 2
    misses_to_break: int = 1
    charge_hour_local: int = 9
    stale_claim_minutes: int = 30
    request_ttl_hours: int = 24
    consumer_initiated_minutes: int = 60  # an outcome this soon after the request is a reply, not proactive
    notification_max_attempts: int = 12


class PaymentRefused(Exception):
    """A payment request the account or policy does not allow. Reasons: below_minimum, above_balance,
    nothing_due, collection_stopped, settlement_not_offered, invalid_amount."""

    def __init__(self, reason: str, minimum: Optional[Money] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.minimum = minimum


class PlansNotAllowed(Exception):
    """The creditor allows no payment plans (or collection is stopped): offer the alternatives."""

    def __init__(self, reason: str = "plans_not_allowed") -> None:
        super().__init__(reason)
        self.reason = reason


class PlanRefused(Exception):
    """A plan that cannot be created now. Reasons: bot.domain.plans.plan_problem codes, plan_exists,
    no_plan, collection_stopped, nothing_due."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PromiseRefused(Exception):
    """Reasons: bot.domain.plans.promise_problem codes, collection_stopped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentUnavailable(Exception):
    """The gateway could not be reached: nothing was created; ask the consumer to try again later."""


class PaymentDelayed(PaymentUnavailable):
    """The gateway did not answer, or answered 5xx, after its retries: the request is kept and the
    scheduler tries again with the same idempotency key; the link goes to the conversation when ready."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"payment request {request_id}: the payment page is queued")
        self.request_id = request_id


class UnknownPaymentRequest(LookupError):
    """No payment request has that id."""


@dataclass(frozen=True)
class PaymentOptions:
    """What the consumer may do about an account right now, within creditor policy."""

    account_ref: str
    currency: str
    balance: Money
    collectible: Money
    minimum_partial: Optional[Money]  # None: any amount up to the collectible balance
    settlement: Optional[Settlement]
    plans_allowed: bool
    frequencies: Tuple[str, ...]
    max_installments: int
    min_installment: Optional[Money]
    promise_max_days: int
    collection_stopped: bool
    stop_reason: Optional[str] = None  # the flag, or "on_hold" when the whole balance is disputed
    has_live_plan: bool = False


@dataclass(frozen=True)
class PaymentRequest:
    """A payment link to send the consumer: `url` is the hosted page."""

    id: str
    url: str
    amount: Money
    expires_at: datetime
    purpose: str


@dataclass(frozen=True)
class PaymentRequestView:
    """One payment request as the consumer's receipt or "did my payment go through?" needs it.

    `outcome` is one word: paid, declined (see decline_reason), pending, expired, cancelled,
    refunded, reversed (a chargeback).
    """

    id: str
    account_ref: str
    amount: Money
    purpose: str
    status: str
    outcome: str
    decline_reason: Optional[str]
    url: Optional[str]
    created_at: datetime
    expires_at: datetime
    completed_at: Optional[datetime]
    balance_after: Optional[Money]
    refunded: Money
    conversation_id: Optional[str]
    channel: Optional[str]
    language: str
    creditor_name: str
    plan_id: Optional[int] = None
    plan_status: Optional[str] = None
    installment_seq: Optional[int] = None
    installment_count: Optional[int] = None
    next_retry_at: Optional[datetime] = None
    payment_ref: Optional[str] = None
    creditor_is_agency: bool = False
    consumer_timezone: Optional[str] = None  # IANA name: the page shows times in it


@dataclass(frozen=True)
class InstallmentView:
    id: int
    seq: int
    due: date
    amount: Money
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: Optional[str] = None


@dataclass(frozen=True)
class PlanView:
    id: int
    account_ref: str
    frequency: str
    status: str
    total: Money
    installments: Tuple[InstallmentView, ...]
    created_at: datetime
    has_payment_method: bool
    setup_url: Optional[str] = None

    @property
    def next_installment(self) -> Optional[InstallmentView]:
        return next((i for i in self.installments if i.status in ("scheduled", "retrying", "processing")), None)

    @property
    def paid(self) -> Money:
        total = Money.zero(self.total.currency)
        for installment in self.installments:
            if installment.status == "paid":
                total = total + installment.amount
        return total


@dataclass(frozen=True)
class CreatedPlan:
    """A plan just created. `setup_url`: the page where the consumer pays the first installment (and
    saves the card), or only saves the card when the first installment is later; None when a changed
    plan reuses the card already on file."""

    id: int
    frequency: str
    status: str
    installments: Tuple[Installment, ...]
    setup_url: Optional[str]
    setup_request_id: Optional[str]


@dataclass(frozen=True)
class Promise:
    id: int
    account_ref: str
    amount: Money
    due: date
    status: str
    created_at: datetime
    resolved_at: Optional[datetime] = None


@dataclass(frozen=True)
class PaymentStatus:
    """Everything "did my payment go through?" needs: recent requests newest first, the live plan, promises."""

    account_ref: str
    balance: Money
    collectible: Money
    requests: Tuple[PaymentRequestView, ...]
    plan: Optional[PlanView]
    promises: Tuple[Promise, ...]  # pending ones

    @property
    def latest(self) -> Optional[PaymentRequestView]:
        return self.requests[0] if self.requests else None

    @property
    def last_payment(self) -> Optional[PaymentRequestView]:
        return next((r for r in self.requests if r.outcome in ("paid", "refunded", "reversed")), None)

    @property
    def active_plan(self) -> Optional[PlanView]:
        """The plan in force (pending its card, or active); None when the latest one has ended."""
        return self.plan if self.plan is not None and self.plan.status in ("pending", "active") else None

    @property
    def next_installment(self) -> Optional[InstallmentView]:
        return self.active_plan.next_installment if self.active_plan else None


@dataclass(frozen=True)
class SandboxOutcome:
    """What the sandbox page shows after a card was entered.

    status: succeeded | declined (code: card_declined, insufficient_funds, ...) | invalid (code:
    invalid_number, invalid_expiry, expired_card, invalid_cvc; nothing was attempted) | not_payable
    (the request is paid, expired or cancelled; code: its status).
    """

    status: str
    code: Optional[str]
    request: PaymentRequestView


@dataclass
class RunDueSummary:
    expired_requests: int = 0
    charged: int = 0
    succeeded: int = 0
    failed: int = 0
    retries_scheduled: int = 0
    plans_broken: int = 0
    plans_completed: int = 0
    paused: int = 0
    unavailable: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    links_created: int = 0  # payment pages the gateway could not create at first
    notifications_sent: int = 0
    notifications_failed: int = 0
    errors: list = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if k != "errors" and v]
        return "run-due: " + (", ".join(parts) if parts else "nothing due") + (
            f"; errors: {self.errors}" if self.errors else "")
