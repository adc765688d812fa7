"""Payments under fault injection, against a stateful stand-in for Stripe (tests/stripe_fake.py) reached by
stripe-python's own transport: responses lost after Stripe processed the request, Stripe answering 5xx
or too slowly, the process calling Stripe killed mid-charge, webhooks delivered three times out of order.

After each, the ledger's payments are exactly the provider's charges (same payment intents, same
amounts), nothing was created twice under one idempotency key, and the keys are the ledger's own.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import stripe
from sqlalchemy import select

from bot.bootstrap import make_engine
from bot.domain.plans import build_plan
from bot.ledger import schema as t
from bot.ledger import schema_payments as tp
from bot.ledger.importer import import_placements
from bot.ledger.migrations import upgrade
from bot.ledger.payments import SqlPayments
from bot.ledger.repository import SqlLedger
from bot.payments.notifier import ConsumerNotifier
from bot.payments.service import PaymentDelayed, PaymentsService
from bot.payments.stripe_gateway import StripeGateway, make_stripe_client
from tests.stripe_fake import StripeProvider

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_faults"
API_KEY = "sk_test_faults"
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)
MAYA = "BW-10001"
LUCIA = "NW-20001"


class Recording(ConsumerNotifier):
    """Rasa's trigger_intent, as far as the payments service can tell: what the consumer is told."""

    def __init__(self) -> None:
        self.sent = []

    def notify(self, conversation_id, channel, event_name, payload) -> None:
        self.sent.append((conversation_id, event_name, dict(payload)))


@pytest.fixture
def provider():
    with StripeProvider(SECRET, slow_seconds=3) as fake:
        yield fake


def gateway_for(provider: StripeProvider, timeout: float = 5) -> StripeGateway:
    client = make_stripe_client(API_KEY, http_client=stripe.RequestsClient(timeout=timeout), max_network_retries=2,
                                base_addresses={"api": provider.url})
    return StripeGateway(client, "https://pay.example.com", SECRET, clock=lambda: NOW)


@pytest.fixture
def notifier() -> Recording:
    return Recording()


@pytest.fixture
def service(demo_ledger, provider, notifier) -> PaymentsService:
    return PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), gateway_for(provider), notifier,
                           clock=lambda: NOW, public_url="https://pay.example.com")


def deliver_three_times_shuffled(service: PaymentsService, provider: StripeProvider, seed: int = 7) -> None:
    """Every event the provider sent, each delivered three times, all in a shuffled order."""
    deliveries = [event for event in provider.events for _ in range(3)]
    random.Random(seed).shuffle(deliveries)
    for event in deliveries:
        payload, signature = provider.signed(event)
        service.handle_gateway_event(service.parse_webhook(payload, signature))


def ledger_payments(engine) -> dict:
    """The ledger's payment entries, by the provider's payment reference of their request -> amount."""
    le, pr = t.ledger_entries, tp.payment_requests
    with engine.connect() as connection:
        entries = connection.execute(
            select(le.c.idempotency_key, le.c.amount_minor).where(le.c.kind == "payment")).all()
        refs = dict(connection.execute(select(pr.c.id, pr.c.payment_ref)).all())
    paid = [(refs[entry.idempotency_key.split(":", 1)[1]], -entry.amount_minor) for entry in entries]
    assert len({ref for ref, _ in paid}) == len(paid), f"a payment recorded twice: {paid}"
    return dict(paid)


def assert_consistent(provider: StripeProvider, engine) -> None:
    """The ledger's payments are the provider's charges; nothing was created twice under one key."""
    assert ledger_payments(engine) == {ref: charge["amount"] for ref, charge in provider.charges.items()}
    assert all(count == 1 for count in provider.creations.values()), provider.creations
    with engine.connect() as connection:
        keys = set(connection.execute(select(tp.payment_requests.c.idempotency_key)).scalars())
    made_by_us = {key.rsplit(":customer", 1)[0] for key in provider.creations}
    assert made_by_us <= keys, "every idempotency key Stripe saw comes from the ledger"


def paid_plan(service: PaymentsService, provider: StripeProvider, count: int = 3, account: str = MAYA):
    """A plan whose first installment the consumer paid on Stripe's page (the card is saved)."""
    proposal = build_plan(service.options(account).collectible, "monthly", count, NOW.date())
    plan = service.create_plan(account, proposal, f"conv-{account}", "rest")
    provider.pay(plan.setup_url.rsplit("/", 1)[1])
    deliver_three_times_shuffled(service, provider)
    assert service.plan(account).status == "active"
    return plan


def test_a_checkout_answer_lost_on_the_way_back_still_makes_one_page_and_one_payment(service, provider, demo_ledger):
    provider.fault("/v1/checkout/sessions", "drop")  # Stripe made the page; stripe-python never heard
    request = service.request_payment(MAYA, None, "full", "conv-1", "rest")
    assert request.url.startswith("https://checkout.stripe.test/cs_")
    assert [outcome for path, _, outcome in provider.requests if path == "/v1/checkout/sessions"] == ["dropped", "200"]
    provider.pay(request.url.rsplit("/", 1)[1])
    deliver_three_times_shuffled(service, provider)
    assert demo_ledger.statement(MAYA).balance.minor == 0
    assert len(provider.sessions) == 1
    assert_consistent(provider, demo_ledger.engine)


def test_installment_answers_lost_every_time_then_the_next_run_replays_the_same_charge(service, provider,
                                                                                      demo_ledger):
    paid_plan(service, provider)
    due = datetime(2026, 12, 23, 20, tzinfo=timezone.utc)
    provider.fault("/v1/payment_intents", "drop", times=3)  # the charge happened; all three answers are lost
    assert service.run_due(due).unavailable == 1
    assert len(provider.charges) == 2  # the first installment on the page, and this one
    assert service.run_due(due).succeeded == 1  # the same key: Stripe replays, nothing is charged again
    keys = [key for path, key, _ in provider.requests if path == "/v1/payment_intents"]
    assert len(keys) == 4 and len(set(keys)) == 1
    deliver_three_times_shuffled(service, provider, seed=11)
    assert len(provider.charges) == 2
    assert_consistent(provider, demo_ledger.engine)


def test_stripe_answering_5xx_leaves_the_installment_for_the_next_run_not_failed(service, provider, demo_ledger,
                                                                                 notifier):
    paid_plan(service, provider)
    due = datetime(2026, 12, 23, 20, tzinfo=timezone.utc)
    provider.fault("/v1/payment_intents", "5xx", times=3)  # stripe-python's try and its two retries
    summary = service.run_due(due)
    assert (summary.unavailable, summary.failed, summary.charged) == (1, 0, 0)
    assert [n[1] for n in notifier.sent].count("payment_failed") == 0  # nobody is told their card failed
    assert service.run_due(due).succeeded == 1
    assert service.plan(MAYA).status == "active"
    deliver_three_times_shuffled(service, provider, seed=3)
    assert_consistent(provider, demo_ledger.engine)


# Stripe down when the consumer says yes -> what the consumer is told, and the link that follows.
@pytest.mark.parametrize("fault", [
    "5xx",  # Stripe answers 500 to the try and both retries
    "slow",  # Stripe answers after the client's timeout, every time
])
def test_a_page_stripe_cannot_make_now_is_queued_and_the_link_follows(demo_ledger, provider, notifier, fault):
    service = PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), gateway_for(provider, timeout=1),
                              notifier, clock=lambda: NOW, public_url="https://pay.example.com")
    provider.fault("/v1/checkout/sessions", fault, times=3)
    with pytest.raises(PaymentDelayed) as delayed:
        service.request_payment(MAYA, None, "full", "conv-2", "rest")
    request_id = delayed.value.request_id
    assert notifier.sent == [] and demo_ledger.statement(MAYA).balance.minor > 0
    summary = service.run_due(NOW + timedelta(minutes=2))
    assert summary.links_created == 1
    [(conversation, event, payload)] = notifier.sent
    assert (conversation, event, payload["payment_request_id"]) == ("conv-2", "payment_link_ready", request_id)
    view = service.payment_request(request_id)
    assert view.url.startswith("https://checkout.stripe.test/cs_") and view.outcome == "pending"
    assert service.run_due(NOW + timedelta(minutes=3)).links_created == 0  # once
    # Made under the request's own key however many tries it took (slow answers are processed anyway).
    assert {key for path, key, _ in provider.requests if path == "/v1/checkout/sessions"} == {f"payreq:{request_id}"}
    assert len(provider.sessions) == 1
    provider.pay(view.url.rsplit("/", 1)[1])
    deliver_three_times_shuffled(service, provider)
    assert_consistent(provider, demo_ledger.engine)


def test_a_queued_page_is_given_up_when_its_request_expires(demo_ledger, provider, notifier):
    service = PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), gateway_for(provider), notifier,
                              clock=lambda: NOW, public_url="https://pay.example.com")
    provider.fault("/v1/checkout/sessions", "5xx", times=3)
    with pytest.raises(PaymentDelayed) as delayed:
        service.request_payment(MAYA, None, "full", "conv-3", "rest")
    assert service.run_due(NOW + timedelta(hours=25)).links_created == 0
    assert service.payment_request(delayed.value.request_id).outcome == "cancelled" and notifier.sent == []
    assert provider.sessions == {}


# --- the process calling Stripe killed mid-charge ---------------------------------------------------


def run_due_process(database_url: str, provider: StripeProvider, at: datetime) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, STRIPE_API_KEY=API_KEY, STRIPE_API_BASE=provider.url,
               STRIPE_WEBHOOK_SECRET=SECRET, RASA_URL="http://127.0.0.1:9", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "bot", "run-due", "--at", at.isoformat()], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def succeeded(run_due_output: str) -> int:
    found = re.search(r"succeeded=(\d+)", run_due_output)
    return int(found.group(1)) if found else 0


def test_two_schedulers_started_at_the_same_moment_charge_each_installment_once(service, provider, demo_ledger):
    """The scheduler on two machines: two `run-due` processes at once against one ledger."""
    for account in (MAYA, LUCIA):
        paid_plan(service, provider, account=account)
    due = datetime(2026, 12, 23, 20, tzinfo=timezone.utc)
    database_url = demo_ledger.engine.url.render_as_string(hide_password=False)
    provider.fault("/v1/payment_intents", "hang")  # the first charge waits: the other machine runs meanwhile
    first, second = (run_due_process(database_url, provider, due) for _ in range(2))
    try:
        assert provider.processed.wait(120)
        while first.poll() is None and second.poll() is None:  # one machine finishes while the other charges
            time.sleep(0.2)
    finally:
        provider.release.set()
    summaries = [process.communicate(timeout=120)[0] for process in (first, second)]
    assert first.returncode == second.returncode == 0, summaries
    assert sum(succeeded(out) for out in summaries) == 2, summaries
    keys = [key for path, key, _ in provider.requests if path == "/v1/payment_intents"]
    assert len(set(keys)) == 2  # one key per installment (a timed-out request is retried with its key)
    deliver_three_times_shuffled(service, provider, seed=9)
    assert len(provider.charges) == 4  # the two plans' first payments on the page, one installment each
    assert_consistent(provider, demo_ledger.engine)


def test_a_scheduler_killed_mid_charge_is_taken_over_with_the_same_key(tmp_path, provider, notifier):
    database_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    import_placements(engine, ROOT / "demo" / "placements.csv", ROOT / "demo" / "creditors.yml")
    ledger = SqlLedger(engine)
    service = PaymentsService(ledger, SqlPayments(engine), gateway_for(provider), notifier, clock=lambda: NOW,
                              public_url="https://pay.example.com")
    paid_plan(service, provider)
    due = datetime(2026, 12, 23, 20, tzinfo=timezone.utc)

    provider.fault("/v1/payment_intents", "hang")  # Stripe charges the card, then the answer never comes
    first = run_due_process(database_url, provider, due)
    try:
        assert provider.processed.wait(120), first.communicate(timeout=5)
        os.killpg(first.pid, signal.SIGKILL)  # the scheduler dies between the charge and the ledger
        first.wait(30)
    finally:
        provider.release.set()
    assert len(provider.charges) == 2 and len(ledger_payments(engine)) == 1  # charged, not yet recorded

    early = run_due_process(database_url, provider, due + timedelta(minutes=5))  # the claim is still fresh
    assert early.wait(120) == 0, early.communicate()
    takeover = run_due_process(database_url, provider, due + timedelta(minutes=31))  # a stale claim is taken over
    out, err = takeover.communicate(timeout=120)
    assert takeover.returncode == 0, err
    assert "succeeded=1" in out, out
    keys = [key for path, key, _ in provider.requests if path == "/v1/payment_intents"]
    assert len(keys) == 2 and len(set(keys)) == 1 and keys[0].endswith(":attempt:1")
    deliver_three_times_shuffled(service, provider, seed=5)
    assert len(provider.charges) == 2
    assert_consistent(provider, engine)
    engine.dispose()
    time.sleep(0)  # nothing left running: both processes have exited
