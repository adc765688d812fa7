"""The Stripe adapter (stripe-python's StripeClient), used when STRIPE_API_KEY is set.

- One-time payments: a Checkout Session per payment request. Plans: the first installment's Checkout
  Session carries `payment_intent_data.setup_future_usage=off_session` and a Customer, so the card is
  saved; a plan whose first payment is later uses a `mode=setup` session. Later installments are
  off-session PaymentIntents (`off_session=true, confirm=true`) on the saved payment method.
- Every mutating call passes `idempotency_key`: `payreq:<request id>` for a checkout (its customer
  `payreq:<request id>:customer`), `installment:<id>:attempt:<n>` for a charge. stripe-python retries
  network errors itself (`max_network_retries`) and reuses the same key on each retry, so Stripe
  replays instead of charging twice.
- Metadata on the session and on its PaymentIntent / SetupIntent carries `account_ref` and
  `payment_request_id`; webhooks are matched back to the ledger by it.
- Amounts are Money minor units, which is what Stripe calls the smallest currency unit (cents; yen
  for zero-decimal currencies); currencies go lower-case as Stripe expects.
- Webhooks: `stripe.Webhook.construct_event` with STRIPE_WEBHOOK_SECRET, then `normalize_stripe_event`.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Mapping, Optional

import stripe

from bot.payments import gateway as g

logger = logging.getLogger(__name__)

DEFAULT_NETWORK_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 30
# Stripe Checkout sessions live between 30 minutes and 24 hours.
_CHECKOUT_MIN = timedelta(minutes=31)
_CHECKOUT_MAX = timedelta(hours=23, minutes=59)


def make_stripe_client(
    api_key: str,
    http_client: Optional[stripe.HTTPClient] = None,
    max_network_retries: int = DEFAULT_NETWORK_RETRIES,
    base_addresses: Optional[Dict[str, str]] = None,
) -> stripe.StripeClient:
    """A StripeClient with a bounded timeout and retries; tests inject a local `http_client`."""
    return stripe.StripeClient(
        api_key,
        http_client=http_client or stripe.RequestsClient(timeout=DEFAULT_TIMEOUT_SECONDS),
        max_network_retries=max_network_retries,
        base_addresses=base_addresses or {},
    )


def verify_stripe_webhook(payload: bytes, signature: Optional[str], secret: Optional[str]) -> g.GatewayEvent:
    """Stripe's own validator on the raw body; anything unverifiable raises InvalidWebhook."""
    if not secret:
        raise g.InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set: no webhook can be verified")
    if not signature:
        raise g.InvalidWebhook("missing Stripe-Signature header")
    try:
        # Stripe's own check of the signature; the body is read by us, because construct_event
        # crashes (AttributeError) on a validly signed body that is JSON but not an object.
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret,
                                              stripe.Webhook.DEFAULT_TOLERANCE)
        body = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise g.InvalidWebhook(f"bad signature: {exc.user_message or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise g.InvalidWebhook(f"body is not a JSON event: {exc}") from None
    if not _is_event(body):
        raise g.InvalidWebhook("body is not a Stripe event")
    try:
        return normalize_stripe_event(body)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # signed, but not shaped like Stripe's
        raise g.InvalidWebhook(f"malformed {body.get('type')!r} event: {type(exc).__name__}") from None


def _is_event(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("id"), str) and bool(body["id"])
            and isinstance(body.get("type"), str) and isinstance(body.get("data"), dict)
            and isinstance(body["data"].get("object"), dict))


def _text(value: Any) -> Optional[str]:
    """A string field as a string, or None: a signed event still decides nothing by its shape."""
    return value if isinstance(value, str) and value else None


def _amount(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 62 else None


def _id(value: Any) -> Optional[str]:
    """An id whether Stripe sent it bare or as an expanded object."""
    if isinstance(value, Mapping):
        return _text(value.get("id"))
    return _text(value)


def _upper(currency: Any) -> Optional[str]:
    return currency.upper() if _text(currency) else None


def normalize_stripe_event(event: Mapping[str, Any]) -> g.GatewayEvent:
    """Map the Stripe events this product listens to onto GatewayEvent; everything else is IGNORED."""
    kind = event.get("type", "")
    obj: Mapping[str, Any] = (event.get("data") or {}).get("object") or {}
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    created = _amount(event.get("created"))
    common: Dict[str, Any] = dict(
        id=str(event["id"]),
        request_id=_text(metadata.get("payment_request_id")) or _text(obj.get("client_reference_id")),
        account_ref=_text(metadata.get("account_ref")),
        created=datetime.fromtimestamp(created, tz=timezone.utc) if created and 0 < created < 2 ** 33 else None,
        extra={"stripe_type": kind},
    )

    def make(event_type: str, **values: Any) -> g.GatewayEvent:
        return g.GatewayEvent(type=event_type, **{**common, **values})

    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("mode") == "payment" and obj.get("payment_status") == "paid":
            return make(g.PAYMENT_SUCCEEDED, payment_ref=_id(obj.get("payment_intent")),
                        gateway_ref=_text(obj.get("id")), amount_minor=_amount(obj.get("amount_total")),
                        currency=_upper(obj.get("currency")), customer_ref=_id(obj.get("customer")))
        # setup mode: setup_intent.succeeded carries the method
        return make(g.IGNORED, gateway_ref=_text(obj.get("id")))
    if kind == "checkout.session.async_payment_failed":
        return make(g.PAYMENT_FAILED, payment_ref=_id(obj.get("payment_intent")), gateway_ref=_text(obj.get("id")),
                    failure_code="payment_failed")
    if kind == "checkout.session.expired":
        return make(g.CHECKOUT_EXPIRED, gateway_ref=_text(obj.get("id")))
    if kind == "payment_intent.succeeded":
        return make(g.PAYMENT_SUCCEEDED, payment_ref=_text(obj.get("id")),
                    amount_minor=_amount(obj.get("amount_received")) or _amount(obj.get("amount")),
                    currency=_upper(obj.get("currency")),
                    payment_method_ref=_id(obj.get("payment_method")), customer_ref=_id(obj.get("customer")))
    if kind == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") if isinstance(obj.get("last_payment_error"), Mapping) else {}
        return make(g.PAYMENT_FAILED, payment_ref=_text(obj.get("id")),
                    failure_code=_text(error.get("decline_code")) or _text(error.get("code")) or "payment_failed")
    if kind == "setup_intent.succeeded":
        return make(g.METHOD_SAVED, gateway_ref=_text(obj.get("id")),
                    payment_method_ref=_id(obj.get("payment_method")), customer_ref=_id(obj.get("customer")))
    if kind == "charge.refunded":
        return make(g.REFUNDED, payment_ref=_id(obj.get("payment_intent")),
                    amount_minor=_amount(obj.get("amount_refunded")), currency=_upper(obj.get("currency")))
    if kind == "charge.dispute.created":
        return make(g.CHARGEBACK, payment_ref=_id(obj.get("payment_intent")),
                    amount_minor=_amount(obj.get("amount")), currency=_upper(obj.get("currency")),
                    dispute_ref=_text(obj.get("id")))
    if kind == "charge.dispute.closed" and obj.get("status") == "won":
        return make(g.CHARGEBACK_REVERSED, payment_ref=_id(obj.get("payment_intent")),
                    amount_minor=_amount(obj.get("amount")), currency=_upper(obj.get("currency")),
                    dispute_ref=_text(obj.get("id")))
    return make(g.IGNORED)


def _gateway_error(exc: stripe.StripeError) -> g.GatewayError:
    """After stripe-python's own retries (same key, backoff): is the outcome unknown, or a refusal?

    No answer, a timeout, a 5xx or a 429 leave the outcome unknown or the request unprocessed: the
    caller may retry later with the same idempotency key (GatewayUnavailable). Anything else is Stripe
    saying no to this request, which the same request would hear again.
    """
    status = getattr(exc, "http_status", None) or 0
    if isinstance(exc, stripe.APIConnectionError) or status >= 500 or status == 429:
        return g.GatewayUnavailable(f"Stripe unavailable ({status or 'no answer'}): {exc.user_message or exc}")
    return g.GatewayError(f"Stripe refused: {exc.user_message or exc}")


class StripeGateway(g.PaymentGateway):
    """Stripe through an injected StripeClient; blocking calls (the service runs in a worker thread)."""

    name = "stripe"

    def __init__(
        self,
        client: stripe.StripeClient,
        public_url: str,
        webhook_secret: Optional[str],
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.client = client
        self.public_url = public_url.rstrip("/")
        self.webhook_secret = webhook_secret
        self.clock = clock

    def _metadata(self, request_id: str, account_ref: str, purpose: str) -> Dict[str, str]:
        return {"account_ref": account_ref, "payment_request_id": request_id, "purpose": purpose}

    def _customer(self, checkout: g.CheckoutRequest) -> str:
        if checkout.customer_ref:
            return checkout.customer_ref
        params: Dict[str, Any] = {"metadata": {"account_ref": checkout.account_ref}}
        if checkout.customer_email:
            params["email"] = checkout.customer_email
        customer = self._call(self.client.v1.customers.create, params,
                              f"{checkout.idempotency_key}:customer")
        return customer.id

    def _call(self, method: Callable[..., Any], params: Dict[str, Any], idempotency_key: str) -> Any:
        try:
            return method(params=params, options={"idempotency_key": idempotency_key})
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from None

    def create_checkout(self, checkout: g.CheckoutRequest) -> g.HostedCheckout:
        now = self.clock()
        expires = min(max(checkout.expires_at, now + _CHECKOUT_MIN), now + _CHECKOUT_MAX)
        metadata = self._metadata(checkout.request_id, checkout.account_ref, checkout.purpose)
        result_url = f"{self.public_url}/pay/{checkout.request_id}/result"
        params: Dict[str, Any] = {
            "client_reference_id": checkout.request_id,
            "metadata": metadata,
            "success_url": result_url + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": result_url,
            "expires_at": int(expires.timestamp()),
            "locale": "es" if checkout.language == "es" else "en",
        }
        customer = self._customer(checkout) if checkout.save_method or checkout.amount.minor == 0 else None
        if customer:
            params["customer"] = customer
        elif checkout.customer_email:
            params["customer_email"] = checkout.customer_email
        if checkout.amount.minor == 0:
            params.update(mode="setup", currency=checkout.amount.currency.lower(),
                          setup_intent_data={"metadata": metadata, "description": checkout.description})
        else:
            intent: Dict[str, Any] = {"metadata": metadata, "description": checkout.description}
            if checkout.save_method:
                intent["setup_future_usage"] = "off_session"
            params.update(
                mode="payment",
                line_items=[{
                    "quantity": 1,
                    "price_data": {
                        "currency": checkout.amount.currency.lower(),
                        "unit_amount": checkout.amount.minor,
                        "product_data": {"name": checkout.description},
                    },
                }],
                payment_intent_data=intent,
            )
        session = self._call(self.client.v1.checkout.sessions.create, params, checkout.idempotency_key)
        return g.HostedCheckout(url=session.url, gateway_ref=session.id, customer_ref=customer)

    def charge_saved_method(self, charge: g.OffSessionCharge) -> g.ChargeResult:
        params: Dict[str, Any] = {
            "amount": charge.amount.minor,
            "currency": charge.amount.currency.lower(),
            "payment_method": charge.payment_method_ref,
            "off_session": True,
            "confirm": True,
            "metadata": self._metadata(charge.request_id, charge.account_ref, "installment"),
            "description": charge.description or "Payment plan installment",
        }
        if charge.customer_ref:
            params["customer"] = charge.customer_ref
        try:
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": charge.idempotency_key})
        except stripe.CardError as exc:
            error = (exc.json_body or {}).get("error") or {}
            return g.ChargeResult("failed", _id(error.get("payment_intent")),
                                  error.get("decline_code") or exc.code or "card_declined")
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from None
        if intent.status == "succeeded":
            return g.ChargeResult("succeeded", intent.id)
        if intent.status == "processing":
            return g.ChargeResult("processing", intent.id)
        return g.ChargeResult("failed", intent.id, "authentication_required")

    def cancel_checkout(self, gateway_ref: str) -> None:
        try:
            self.client.v1.checkout.sessions.expire(gateway_ref, options={"idempotency_key": f"expire:{gateway_ref}"})
        except stripe.StripeError as exc:  # already completed or expired: nothing to stop
            logger.info("could not expire checkout session %s: %s", gateway_ref, exc.user_message or exc)

    def parse_webhook(self, payload: bytes, signature: Optional[str]) -> g.GatewayEvent:
        return verify_stripe_webhook(payload, signature, self.webhook_secret)
