"""The Stripe adapter through stripe-python against a local HTTP server standing in for api.stripe.com.

stripe-python's own transport (RequestsClient) talks to the server, so what is asserted is what would
go over the wire: form-encoded amounts in minor units, lower-case currencies, metadata linking the
ledger, the Idempotency-Key header, and retries of network errors that reuse the same key.
"""
from __future__ import annotations

import json
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List

import pytest
import stripe

from bot.domain.money import Money
from bot.ledger.payments import SqlPayments
from bot.payments import gateway as g
from bot.payments.notifier import ConsumerNotifier
from bot.payments.service import PaymentsService
from bot.payments.stripe_gateway import StripeGateway, make_stripe_client, normalize_stripe_event

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)
API_KEY = "sk_test_local"


class FakeStripe(BaseHTTPRequestHandler):
    """Answers the few endpoints the adapter calls; records every request."""

    requests: List[Dict] = []
    drop_next = 0  # close this many connections without an answer (a network error)
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        with self.lock:
            drop = FakeStripe.drop_next > 0
            if drop:
                FakeStripe.drop_next -= 1
            FakeStripe.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                        "form": dict(urllib.parse.parse_qsl(body)), "dropped": drop})
        if drop:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, answer = self.answer(self.path, dict(urllib.parse.parse_qsl(body)))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_local")
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def answer(path: str, form: Dict[str, str]):
        if path == "/v1/customers":
            return 200, {"id": "cus_local", "object": "customer"}
        if path == "/v1/checkout/sessions":
            return 200, {"id": "cs_test_local", "object": "checkout.session",
                         "url": "https://checkout.stripe.com/c/pay/cs_test_local", "mode": form.get("mode")}
        if path.endswith("/expire"):
            return 200, {"id": path.split("/")[-2], "object": "checkout.session", "status": "expired"}
        if path == "/v1/payment_intents":
            if form.get("payment_method") == "pm_card_chargeDeclinedInsufficientFunds":
                return 402, {"error": {"type": "card_error", "code": "card_declined",
                                       "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.",
                                       "payment_intent": {"id": "pi_declined", "object": "payment_intent",
                                                          "status": "requires_payment_method"}}}
            return 200, {"id": "pi_local", "object": "payment_intent", "status": "succeeded",
                         "amount": int(form["amount"]), "currency": form["currency"]}
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}


@pytest.fixture
def stripe_server():
    FakeStripe.requests = []
    FakeStripe.drop_next = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stripe_gateway(stripe_server) -> StripeGateway:
    client = make_stripe_client(API_KEY, http_client=stripe.RequestsClient(timeout=5), max_network_retries=2,
                                base_addresses={"api": stripe_server})
    return StripeGateway(client, "https://pay.example.com", "whsec_local", clock=lambda: NOW)


def checkout(amount: Money, save_method: bool = False, request_id: str = "pr_abc") -> g.CheckoutRequest:
    return g.CheckoutRequest(request_id=request_id, account_ref="BW-10001", amount=amount, purpose="full",
                             description="Brightwork Marketplace: Payment in full (BW-10001)",
                             idempotency_key=f"payreq:{request_id}", expires_at=NOW + timedelta(hours=24),
                             save_method=save_method, customer_email="maya.thompson@example.com")


def sent(path: str) -> List[Dict]:
    return [r for r in FakeStripe.requests if r["path"] == path and not r["dropped"]]


@pytest.mark.parametrize(
    "amount, unit_amount, currency",
    [
        (Money(77500, "USD"), "77500", "usd"),  # cents
        (Money(5000, "JPY"), "5000", "jpy"),  # a zero-decimal currency: yen, not hundredths
    ],
)
def test_checkout_session_carries_minor_units_metadata_and_the_key(stripe_gateway, amount, unit_amount, currency):
    hosted = stripe_gateway.create_checkout(checkout(amount))

    assert hosted.url == "https://checkout.stripe.com/c/pay/cs_test_local" and hosted.gateway_ref == "cs_test_local"
    [request] = sent("/v1/checkout/sessions")
    form = request["form"]
    assert request["headers"]["idempotency-key"] == "payreq:pr_abc"
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == unit_amount
    assert form["line_items[0][price_data][currency]"] == currency
    assert form["metadata[account_ref]"] == "BW-10001" and form["metadata[payment_request_id]"] == "pr_abc"
    assert form["payment_intent_data[metadata][account_ref]"] == "BW-10001"
    assert form["payment_intent_data[metadata][payment_request_id]"] == "pr_abc"
    assert form["client_reference_id"] == "pr_abc"
    assert form["success_url"].startswith("https://pay.example.com/pay/pr_abc/result")
    assert "payment_intent_data[setup_future_usage]" not in form
    assert int(form["expires_at"]) == int((NOW + timedelta(hours=23, minutes=59)).timestamp())  # Stripe's cap


def test_a_plan_checkout_saves_the_card_on_a_customer(stripe_gateway):
    hosted = stripe_gateway.create_checkout(checkout(Money(25834, "USD"), save_method=True))

    [customer] = sent("/v1/customers")
    assert customer["headers"]["idempotency-key"] == "payreq:pr_abc:customer"
    assert customer["form"]["metadata[account_ref]"] == "BW-10001"
    [session] = sent("/v1/checkout/sessions")
    assert session["form"]["customer"] == "cus_local" and hosted.customer_ref == "cus_local"
    assert session["form"]["payment_intent_data[setup_future_usage]"] == "off_session"


def test_a_setup_only_checkout(stripe_gateway):
    stripe_gateway.create_checkout(checkout(Money(0, "USD"), save_method=True))
    [session] = sent("/v1/checkout/sessions")
    form = session["form"]
    assert form["mode"] == "setup" and form["currency"] == "usd" and "line_items[0][quantity]" not in form
    assert form["setup_intent_data[metadata][payment_request_id]"] == "pr_abc"


def charge(method: str = "pm_card_visa", key: str = "installment:7:attempt:1") -> g.OffSessionCharge:
    return g.OffSessionCharge(request_id="pr_inst", account_ref="BW-10001", amount=Money(25833, "USD"),
                              payment_method_ref=method, idempotency_key=key, customer_ref="cus_local")


def test_an_off_session_charge(stripe_gateway):
    result = stripe_gateway.charge_saved_method(charge())

    assert result == g.ChargeResult("succeeded", "pi_local")
    [request] = sent("/v1/payment_intents")
    form = request["form"]
    assert request["headers"]["idempotency-key"] == "installment:7:attempt:1"
    assert (form["amount"], form["currency"], form["off_session"], form["confirm"]) == ("25833", "usd", "true", "true")
    assert form["payment_method"] == "pm_card_visa" and form["customer"] == "cus_local"
    assert form["metadata[payment_request_id]"] == "pr_inst" and form["metadata[account_ref]"] == "BW-10001"


def test_a_declined_off_session_charge(stripe_gateway):
    result = stripe_gateway.charge_saved_method(charge("pm_card_chargeDeclinedInsufficientFunds"))
    assert result == g.ChargeResult("failed", "pi_declined", "insufficient_funds")


def test_a_network_error_is_retried_with_the_same_key(stripe_gateway):
    FakeStripe.drop_next = 1

    assert stripe_gateway.charge_saved_method(charge()).status == "succeeded"

    attempts = [r for r in FakeStripe.requests if r["path"] == "/v1/payment_intents"]
    assert [r["dropped"] for r in attempts] == [True, False]
    assert {r["headers"]["idempotency-key"] for r in attempts} == {"installment:7:attempt:1"}


def test_when_stripe_stays_unreachable_the_installment_waits_for_the_next_run(stripe_gateway, demo_ledger):
    class Silent(ConsumerNotifier):
        def notify(self, *args) -> None:
            pass

    service = PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), stripe_gateway, Silent(),
                              clock=lambda: NOW, public_url="https://pay.example.com")
    plan = service.create_plan("BW-10001", service.propose_plans("BW-10001")[0])
    assert plan.setup_url == "https://checkout.stripe.com/c/pay/cs_test_local"
    service.handle_gateway_event(g.GatewayEvent(
        id="evt_paid_first", type=g.PAYMENT_SUCCEEDED, request_id=plan.setup_request_id, payment_ref="pi_first",
        amount_minor=plan.installments[0].amount.minor, currency="USD", payment_method_ref="pm_card_visa",
        customer_ref="cus_local"))
    due = datetime(2026, 12, 23, 20, tzinfo=timezone.utc)

    FakeStripe.drop_next = 3  # the first try and both retries
    assert service.run_due(due).unavailable == 1
    FakeStripe.drop_next = 0
    assert service.run_due(due).succeeded == 1

    keys = [r["headers"]["idempotency-key"] for r in FakeStripe.requests if r["path"] == "/v1/payment_intents"]
    assert len(keys) == 4 and len(set(keys)) == 1 and keys[0].endswith(":attempt:1")
    assert len(demo_ledger.account_json("BW-10001")["payments"]) == 2


# --- webhook normalization ------------------------------------------------------------------------


def event(kind: str, obj: dict) -> dict:
    return {"id": "evt_x", "object": "event", "type": kind, "created": 1_795_000_000, "data": {"object": obj}}


META = {"account_ref": "BW-10001", "payment_request_id": "pr_abc"}


@pytest.mark.parametrize(
    "kind, obj, expected",
    [
        ("checkout.session.completed",
         {"id": "cs_1", "mode": "payment", "payment_status": "paid", "payment_intent": "pi_1", "amount_total": 77500,
          "currency": "usd", "metadata": META},
         dict(type=g.PAYMENT_SUCCEEDED, request_id="pr_abc", payment_ref="pi_1", amount_minor=77500, currency="USD")),
        ("checkout.session.completed", {"id": "cs_1", "mode": "setup", "metadata": META}, dict(type=g.IGNORED)),
        ("payment_intent.payment_failed",
         {"id": "pi_1", "metadata": META, "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline"}},
         dict(type=g.PAYMENT_FAILED, failure_code="generic_decline")),
        ("setup_intent.succeeded", {"id": "seti_1", "payment_method": "pm_1", "customer": "cus_1", "metadata": META},
         dict(type=g.METHOD_SAVED, payment_method_ref="pm_1", customer_ref="cus_1")),
        ("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 2500, "currency": "usd",
                             "metadata": META},
         dict(type=g.REFUNDED, payment_ref="pi_1", amount_minor=2500)),
        ("charge.dispute.created", {"id": "dp_1", "payment_intent": "pi_1", "amount": 77500, "currency": "usd"},
         dict(type=g.CHARGEBACK, dispute_ref="dp_1", request_id=None)),
        ("charge.dispute.closed", {"id": "dp_1", "status": "lost", "payment_intent": "pi_1", "amount": 77500},
         dict(type=g.IGNORED)),
        ("checkout.session.expired", {"id": "cs_1", "metadata": META}, dict(type=g.CHECKOUT_EXPIRED, gateway_ref="cs_1")),
    ],
)
def test_normalize_stripe_events(kind, obj, expected):
    normalized = normalize_stripe_event(event(kind, obj))
    for field, value in expected.items():
        assert getattr(normalized, field) == value, field
