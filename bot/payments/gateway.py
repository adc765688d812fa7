"""The payment gateway port: what the payments service needs from Stripe or the local sandbox.

One-time payments go through a hosted checkout page created for a ledger payment request, with an
idempotency key derived from the request id (creating it twice yields one checkout). Installments
save a payment method during the first payment (or a setup-only checkout) and are then charged
off-session with an idempotency key per installment attempt, so a retried HTTP call or a second
scheduler can never charge twice. Webhooks are verified by the adapter and normalized into
`GatewayEvent`s, which the service applies idempotently whatever order they arrive in.
"""
from __future__ import annotations

import abc
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional

from bot.domain.money import Money

# Normalized event types (GatewayEvent.type).
PAYMENT_SUCCEEDED = "payment_succeeded"
PAYMENT_FAILED = "payment_failed"
METHOD_SAVED = "method_saved"  # a setup-only checkout saved a payment method, nothing charged
REFUNDED = "refunded"  # amount: the cumulative amount refunded on the payment
CHARGEBACK = "chargeback"  # the consumer's bank reversed the payment (a dispute opened)
CHARGEBACK_REVERSED = "chargeback_reversed"  # the dispute was decided for the creditor
CHECKOUT_EXPIRED = "checkout_expired"
IGNORED = "ignored"  # verified, recorded against redelivery, otherwise of no interest
EVENT_TYPES = (PAYMENT_SUCCEEDED, PAYMENT_FAILED, METHOD_SAVED, REFUNDED, CHARGEBACK, CHARGEBACK_REVERSED,
               CHECKOUT_EXPIRED, IGNORED)


class GatewayError(Exception):
    """The gateway refused or could not be reached; nothing was created or charged (or it is unknown)."""


class GatewayUnavailable(GatewayError):
    """Network trouble after the client's own retries: the same idempotency key may be retried later."""


class InvalidWebhook(Exception):
    """A webhook whose signature cannot be verified, or whose body is not an event: answer 400."""


@dataclass(frozen=True)
class CheckoutRequest:
    """A hosted payment page for one payment request. `amount` zero means: only save a payment method."""

    request_id: str
    account_ref: str
    amount: Money
    purpose: str
    description: str
    idempotency_key: str
    expires_at: datetime
    save_method: bool = False
    customer_ref: Optional[str] = None
    customer_email: Optional[str] = None
    language: str = "en"


@dataclass(frozen=True)
class HostedCheckout:
    url: str
    gateway_ref: str
    customer_ref: Optional[str] = None


@dataclass(frozen=True)
class OffSessionCharge:
    """Charge a saved payment method with the consumer away (an installment attempt)."""

    request_id: str
    account_ref: str
    amount: Money
    payment_method_ref: str
    idempotency_key: str
    customer_ref: Optional[str] = None
    description: str = ""


@dataclass(frozen=True)
class ChargeResult:
    """succeeded | failed | processing (the final word then comes by webhook)."""

    status: str
    payment_ref: Optional[str] = None
    failure_code: Optional[str] = None


@dataclass(frozen=True)
class GatewayEvent:
    """A gateway event reduced to what the ledger needs; `id` is the gateway's own (deduplication key)."""

    id: str
    type: str
    request_id: Optional[str] = None
    payment_ref: Optional[str] = None
    gateway_ref: Optional[str] = None
    amount_minor: Optional[int] = None
    currency: Optional[str] = None
    payment_method_ref: Optional[str] = None
    customer_ref: Optional[str] = None
    failure_code: Optional[str] = None
    dispute_ref: Optional[str] = None
    account_ref: Optional[str] = None
    created: Optional[datetime] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"event type must be one of {EVENT_TYPES}, got {self.type!r}")
        if not self.id:
            raise ValueError("a gateway event needs its id")

    def to_json(self) -> str:
        data = asdict(self)
        data["created"] = self.created.isoformat() if self.created else None
        return json.dumps(data, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> "GatewayEvent":
        data = json.loads(text)
        if data.get("created"):
            data["created"] = datetime.fromisoformat(data["created"])
        return cls(**data)


class PaymentGateway(abc.ABC):
    """The port. Adapters: bot.payments.stripe_gateway.StripeGateway, bot.payments.sandbox.SandboxGateway."""

    name: str = "gateway"

    @abc.abstractmethod
    def create_checkout(self, checkout: CheckoutRequest) -> HostedCheckout:
        """A hosted page for the request; the same idempotency key gives the same page."""

    @abc.abstractmethod
    def charge_saved_method(self, charge: OffSessionCharge) -> ChargeResult:
        """Charge off-session; raises GatewayUnavailable when the outcome is unknown (retry, same key)."""

    @abc.abstractmethod
    def parse_webhook(self, payload: bytes, signature: Optional[str]) -> GatewayEvent:
        """Verify and normalize a webhook; raises InvalidWebhook when it cannot be verified."""

    def cancel_checkout(self, gateway_ref: str) -> None:
        """Best effort: stop a superseded hosted page from taking money. Default: nothing to do."""
