"""The local sandbox gateway: the default when STRIPE_API_KEY is unset, so `make run` pays end to end.

Its hosted page is served by the backend (`/pay/<request id>`, bot/web/payments.py) and behaves like
Stripe test mode: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0000 0000 9995
fails for insufficient funds, and a few more of Stripe's test numbers do what Stripe documents (see
TEST_CARDS). Any other valid number is declined the way Stripe test mode declines a live card.

The card number lives only in memory for the length of one call: what a saved "payment method"
keeps is a token naming the test card's behaviour (`pm_sandbox_<behaviour>_<random>`), never the
number or its digits. Off-session charges are deterministic per idempotency key, like Stripe's replay.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Dict, Optional, Tuple

from bot.domain.cards import luhn_ok
from bot.payments import gateway as g
from bot.payments.stripe_gateway import verify_stripe_webhook

# behaviour -> (outcome on a payment, decline code)
_BEHAVIOURS: Dict[str, Tuple[str, Optional[str]]] = {
    "ok": ("succeeded", None),
    "declined": ("failed", "card_declined"),
    "funds": ("failed", "insufficient_funds"),
    "lost": ("failed", "lost_card"),
    "stolen": ("failed", "stolen_card"),
    "expired": ("failed", "expired_card"),
    "cvc": ("failed", "incorrect_cvc"),
    "error": ("failed", "processing_error"),
    # Saving it succeeds, every charge fails (Stripe's 4000 0000 0000 0341).
    "attachfail": ("failed", "card_declined"),
    "live": ("failed", "test_mode_live_card"),
}
TEST_CARDS: Dict[str, str] = {
    "4242424242424242": "ok",
    "4000056655665556": "ok",
    "5555555555554444": "ok",
    "2223003122003222": "ok",
    "5200828282828210": "ok",
    "378282246310005": "ok",
    "6011111111111117": "ok",
    "4000000000000002": "declined",
    "4000000000009995": "funds",
    "4000000000009987": "lost",
    "4000000000009979": "stolen",
    "4000000000000069": "expired",
    "4000000000000127": "cvc",
    "4000000000000119": "error",
    "4000000000000341": "attachfail",
}
_TOKEN = re.compile(r"^pm_sandbox_([a-z]+)_[0-9a-f]+$")
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


class CardInputError(ValueError):
    """What a card form rejects before anything is charged: invalid_number, invalid_expiry,
    expired_card (a past expiry), invalid_cvc. Carries only the code, never the input."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CardAttempt:
    """The outcome of one card entered on the sandbox page, as the event the service applies."""

    event: g.GatewayEvent
    succeeded: bool
    decline_code: Optional[str]


def _digits(card_number: str) -> str:
    digits = re.sub(r"[\s-]", "", card_number or "")
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or not luhn_ok(digits):
        raise CardInputError("invalid_number")
    return digits


def check_expiry(exp: str, today: date) -> None:
    match = _EXPIRY.match(exp or "")
    if not match:
        raise CardInputError("invalid_expiry")
    month, year = int(match.group(1)), int(match.group(2))
    year = year + 2000 if year < 100 else year
    if not 1 <= month <= 12:
        raise CardInputError("invalid_expiry")
    if (year, month) < (today.year, today.month):
        raise CardInputError("expired_card")


def check_cvc(cvc: str, digits: str) -> None:
    expected = 4 if digits.startswith(("34", "37")) else 3  # American Express: four digits
    if not (cvc or "").isdigit() or len(cvc) != expected:
        raise CardInputError("invalid_cvc")


class SandboxGateway(g.PaymentGateway):
    """Stripe test mode, simulated locally. Webhooks in Stripe's format are still verified (when a
    STRIPE_WEBHOOK_SECRET is configured) so `/webhooks/stripe` behaves the same in every deployment."""

    name = "sandbox"

    def __init__(self, public_url: str, webhook_secret: Optional[str] = None) -> None:
        self.public_url = public_url.rstrip("/")
        self.webhook_secret = webhook_secret

    def create_checkout(self, checkout: g.CheckoutRequest) -> g.HostedCheckout:
        customer = None
        if checkout.save_method or checkout.amount.minor == 0:
            customer = checkout.customer_ref or "cus_sandbox_" + hashlib.sha256(
                checkout.account_ref.encode()).hexdigest()[:16]
        return g.HostedCheckout(url=f"{self.public_url}/pay/{checkout.request_id}",
                                gateway_ref=f"cs_sandbox_{checkout.request_id}", customer_ref=customer)

    def pay(
        self,
        request_id: str,
        amount_minor: int,
        currency: str,
        card_number: str,
        exp: str,
        cvc: str,
        today: date,
        save_method: bool,
        customer_ref: Optional[str] = None,
    ) -> CardAttempt:
        """One card entered on the hosted page. Raises CardInputError for input a card form refuses."""
        digits = _digits(card_number)
        check_expiry(exp, today)
        check_cvc((cvc or "").strip(), digits)
        behaviour = TEST_CARDS.get(digits, "live")
        del digits  # nothing below may see the number
        outcome, code = _BEHAVIOURS[behaviour]
        if amount_minor == 0 and behaviour in ("ok", "attachfail"):
            outcome, code = "succeeded", None  # a setup-only page just saves the method
        event_id = f"evt_sandbox_{secrets.token_hex(12)}"
        payment_ref = f"pi_sandbox_{secrets.token_hex(12)}"
        method = f"pm_sandbox_{behaviour}_{secrets.token_hex(8)}" if save_method else None
        if outcome != "succeeded":
            event = g.GatewayEvent(id=event_id, type=g.PAYMENT_FAILED, request_id=request_id,
                                   payment_ref=payment_ref, failure_code=code)
            return CardAttempt(event, False, code)
        if amount_minor == 0:
            event = g.GatewayEvent(id=event_id, type=g.METHOD_SAVED, request_id=request_id,
                                   gateway_ref=f"seti_sandbox_{secrets.token_hex(8)}", payment_method_ref=method,
                                   customer_ref=customer_ref)
        else:
            event = g.GatewayEvent(id=event_id, type=g.PAYMENT_SUCCEEDED, request_id=request_id,
                                   payment_ref=payment_ref, amount_minor=amount_minor, currency=currency,
                                   payment_method_ref=method, customer_ref=customer_ref)
        return CardAttempt(event, True, None)

    def charge_saved_method(self, charge: g.OffSessionCharge) -> g.ChargeResult:
        payment_ref = "pi_sandbox_" + hashlib.sha256(charge.idempotency_key.encode()).hexdigest()[:24]
        match = _TOKEN.match(charge.payment_method_ref or "")
        if not match or match.group(1) not in _BEHAVIOURS:
            return g.ChargeResult("failed", payment_ref, "invalid_payment_method")
        outcome, code = _BEHAVIOURS[match.group(1)]
        return g.ChargeResult(outcome, payment_ref, code)

    def parse_webhook(self, payload: bytes, signature: Optional[str]) -> g.GatewayEvent:
        return verify_stripe_webhook(payload, signature, self.webhook_secret)


def sandbox_method_token(behaviour: str = "ok") -> str:
    """A saved sandbox payment method with a given behaviour (for operators' tests and fixtures)."""
    if behaviour not in _BEHAVIOURS:
        raise ValueError(f"behaviour must be one of {sorted(_BEHAVIOURS)}")
    return f"pm_sandbox_{behaviour}_{secrets.token_hex(8)}"
