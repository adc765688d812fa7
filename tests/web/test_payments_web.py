"""The payment routes served for real on a loopback port: Stripe webhooks and the sandbox page.

Signatures are built exactly like stripe-python's own tests build them
(`t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">` with the endpoint secret).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, Optional, Tuple

import pytest
from sanic import Sanic
from sqlalchemy import func, select

from bot.domain.money import Money
from bot.ledger import schema as t
from bot.ledger import schema_payments as p
from bot.ledger.payments import SqlPayments
from bot.payments.notifier import ConsumerNotifier
from bot.payments.sandbox import SandboxGateway
from bot.payments.service import PaymentsService
from bot.web.payments import payments_blueprint

SECRET = "whsec_test_secret"
VISA = "4242424242424242"


class Quiet(ConsumerNotifier):
    def __init__(self) -> None:
        self.sent = []

    def notify(self, conversation_id, channel, event_name, payload) -> None:
        self.sent.append((conversation_id, event_name))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sign(payload: str, secret: str = SECRET, timestamp: Optional[int] = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def http(method: str, url: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None
         ) -> Tuple[int, Dict[str, str], str]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers or {},
                                     method=method)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def service(demo_ledger) -> PaymentsService:
    gateway = SandboxGateway("http://127.0.0.1", webhook_secret=SECRET)
    return PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), gateway, Quiet())


@pytest.fixture
async def server(service):
    """The payments blueprint on a real Sanic server; yields its base URL."""
    Sanic.test_mode = True
    port = free_port()
    app = Sanic(f"payments_web_{port}")
    app.blueprint(payments_blueprint(lambda: service))
    running = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await running.startup()
    yield f"http://127.0.0.1:{port}"
    running.close()
    await running.wait_closed()


async def call(*args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, lambda: http(*args, **kwargs))


def payment_count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(t.ledger_entries)
                                  .where(t.ledger_entries.c.kind == "payment")).scalar_one()


def stripe_event(request_id: str, amount: int, event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy") -> str:
    """A payment_intent.succeeded event as Stripe sends it (trimmed to the fields that matter)."""
    return json.dumps({
        "id": event_id, "object": "event", "api_version": "2024-06-20", "created": 1_795_000_000,
        "type": "payment_intent.succeeded", "livemode": False,
        "data": {"object": {
            "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": "usd", "status": "succeeded",
            "payment_method": "pm_1NG8Dt2eZvKYlo2C", "customer": None,
            "metadata": {"account_ref": "BW-10001", "payment_request_id": request_id, "purpose": "partial"},
        }},
    })


# --- the Stripe webhook -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no Stripe-Signature header at all
        "t=1795000000,v1=" + "0" * 64,  # a made-up signature
        "garbage",
    ],
)
async def test_an_unverifiable_webhook_gets_400_and_changes_nothing(server, service, demo_ledger, signature):
    request = service.request_payment("BW-10001", Money(5000, "USD"), "partial")
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["Stripe-Signature"] = signature
    status, _, body = await call("POST", f"{server}/webhooks/stripe", stripe_event(request.id, 5000).encode(), headers)
    assert status == 400 and "invalid" in body
    assert payment_count(demo_ledger.engine) == 0
    with demo_ledger.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(p.gateway_events)).scalar_one() == 0


async def test_a_signature_made_with_another_secret_or_too_old_is_refused(server, service, demo_ledger):
    request = service.request_payment("BW-10001", Money(5000, "USD"), "partial")
    payload = stripe_event(request.id, 5000)
    for signature in (sign(payload, "whsec_other"), sign(payload, timestamp=int(time.time()) - 3600)):
        status, _, _ = await call("POST", f"{server}/webhooks/stripe", payload.encode(),
                                  {"Stripe-Signature": signature, "Content-Type": "application/json"})
        assert status == 400
    assert payment_count(demo_ledger.engine) == 0


async def test_a_verified_event_delivered_twice_records_one_payment(server, service, demo_ledger):
    request = service.request_payment("BW-10001", Money(5000, "USD"), "partial")
    payload = stripe_event(request.id, 5000)
    replies = []
    for _ in range(2):
        status, _, body = await call("POST", f"{server}/webhooks/stripe", payload.encode(),
                                     {"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
        assert status == 200
        replies.append(json.loads(body))
    assert [r["duplicate"] for r in replies] == [False, True]
    assert payment_count(demo_ledger.engine) == 1
    assert demo_ledger.statement("BW-10001").balance == Money(72500, "USD")
    assert service.payment_request(request.id).outcome == "paid"


async def test_racing_deliveries_record_one_payment(server, service, demo_ledger):
    request = service.request_payment("BW-10001", Money(5000, "USD"), "partial")
    payload = stripe_event(request.id, 5000, event_id="evt_race")
    headers = {"Stripe-Signature": sign(payload), "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = await asyncio.gather(*[
            loop.run_in_executor(pool, http, "POST", f"{server}/webhooks/stripe", payload.encode(), headers)
            for _ in range(4)])
    assert [status for status, _, _ in results] == [200] * 4
    assert sorted(json.loads(body)["duplicate"] for _, _, body in results) == [False, True, True, True]
    assert payment_count(demo_ledger.engine) == 1


async def test_an_unknown_event_type_is_acknowledged(server):
    payload = json.dumps({"id": "evt_other", "object": "event", "type": "customer.created", "created": 1_795_000_000,
                          "data": {"object": {"id": "cus_1", "object": "customer"}}})
    status, _, body = await call("POST", f"{server}/webhooks/stripe", payload.encode(),
                                 {"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["received"] is True


# --- the sandbox page ---------------------------------------------------------------------------------


def form(card: str, exp: str = "12/30", cvc: str = "123") -> bytes:
    return urllib.parse.urlencode({"card_number": card, "exp": exp, "cvc": cvc}).encode()


FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_the_page_shows_what_is_paid_and_takes_a_card_like_a_browser(server, service, demo_ledger):
    request = service.request_payment("BW-10001", None, "full", "conv-web", "rest")
    url = f"{server}/pay/{request.id}"

    status, headers, page = await call("GET", url)
    assert status == 200
    assert "$775.00" in page and "Brightwork Marketplace" in page and "BW-10001" in page
    assert 'name="card_number"' in page and 'name="exp"' in page and 'name="cvc"' in page
    assert f'action="/pay/{request.id}"' in page and 'autocomplete="cc-number"' in page
    assert headers["cache-control"] == "no-store"
    assert "form-action 'self'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]

    status, _, result = await call("POST", url, form("4242 4242 4242 4242"), FORM_HEADERS)
    assert status == 200 and "your payment went through" in result
    assert VISA not in result and "4242 4242 4242 4242" not in result.split("Test mode")[0]
    assert demo_ledger.statement("BW-10001").balance == Money(0, "USD")
    assert payment_count(demo_ledger.engine) == 1

    status, _, again = await call("GET", url)
    assert status == 200 and "went through" in again and 'name="card_number"' not in again


async def test_a_declined_card_shows_the_form_again_empty(server, service, demo_ledger):
    request = service.request_payment("BW-10001", Money(2000, "USD"), "partial")
    status, _, page = await call("POST", f"{server}/pay/{request.id}", form("4000000000000002"), FORM_HEADERS)
    assert status == 200 and 'role="alert"' in page and "declined" in page
    assert "4000000000000002" not in page and 'name="card_number"' in page
    status, _, page = await call("POST", f"{server}/pay/{request.id}", form("4000000000009995"), FORM_HEADERS)
    assert "insufficient funds" in page
    status, _, page = await call("POST", f"{server}/pay/{request.id}", form("4242", "1/1"), FORM_HEADERS)
    assert status == 422 and "not valid" in page
    assert payment_count(demo_ledger.engine) == 0


async def test_the_page_speaks_the_consumers_language(server, service):
    request = service.request_payment("NW-20001", None, "full")
    status, _, page = await call("GET", f"{server}/pay/{request.id}")
    assert status == 200 and 'lang="es"' in page
    assert "Pagar a Northwind Lending" in page and "Pago total" in page and "$652.35" in page


async def test_unknown_replaced_and_expired_links(server, service):
    status, _, page = await call("GET", f"{server}/pay/pr_doesnotexist")
    assert status == 404 and "not found" in page
    first = service.request_payment("BW-10001", Money(1000, "USD"), "partial")
    service.request_payment("BW-10001", Money(2000, "USD"), "partial")
    status, _, page = await call("GET", f"{server}/pay/{first.id}")
    assert status == 410 and "no longer active" in page
    status, _, _ = await call("POST", f"{server}/pay/{first.id}", form(VISA), FORM_HEADERS)
    assert status == 410


async def test_the_scheduler_runs_in_the_background():
    class Service:
        runs = 0

        def run_due(self):
            Service.runs += 1
            from bot.payments.model import RunDueSummary
            return RunDueSummary()

    Sanic.test_mode = True
    port = free_port()
    app = Sanic(f"payments_scheduler_{port}")
    app.blueprint(payments_blueprint(Service, scheduler_seconds=0.05))
    running = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await running.startup()
    await running.after_start()
    await asyncio.sleep(0.3)
    await running.before_stop()
    running.close()
    await running.wait_closed()
    assert Service.runs >= 2
