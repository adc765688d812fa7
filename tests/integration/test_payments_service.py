"""The payments service on the real ledger (SQLite and PostgreSQL) with the sandbox gateway.

The notifier is a recording double; the gateway is the product's sandbox (what `make run` uses),
wrapped where a test needs to count or slow its calls.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, List, Mapping, Optional

import pytest
from sqlalchemy import select, update

from bot.domain.money import Money
from bot.domain.plans import build_plan
from bot.ledger import schema as t
from bot.ledger.payments import SqlPayments
from bot.payments import gateway as g
from bot.payments import model as m
from bot.payments.notifier import ConsumerNotifier, NotificationFailed
from bot.payments.sandbox import SandboxGateway, sandbox_method_token
from bot.payments.service import PaymentsService

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)  # 10am in Los Angeles, 1pm in New York
TODAY = date(2026, 11, 23)
VISA = "4242424242424242"
DECLINED = "4000000000000002"
NO_FUNDS = "4000000000009995"
CHARGES_FAIL = "4000000000000341"  # saving it works, charging it does not
MAYA = "BW-10001"  # Brightwork: plans (monthly, biweekly), settlement floor 80%, $5 minimum partial
LUCIA = "NW-20001"  # Northwind: plans, no settlements, $10 minimum partial
JAMES_CASCADE = "CHP-30001"  # Cascade: no plans, settlement floor 70%


def usd(minor: int) -> Money:
    return Money(minor, "USD")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingNotifier(ConsumerNotifier):
    def __init__(self) -> None:
        self.sent: List[tuple] = []
        self.failures_left = 0

    def notify(self, conversation_id: str, channel: Optional[str], event_name: str,
               payload: Mapping[str, Any]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise NotificationFailed("rasa is restarting")
        self.sent.append((conversation_id, event_name, payload["payment_request_id"]))


class CountingGateway(SandboxGateway):
    """The sandbox, counting off-session charges per idempotency key (and slow, to widen races)."""

    def __init__(self) -> None:
        super().__init__("http://pay.test")
        self.charges: List[str] = []
        self.lock = threading.Lock()

    def charge_saved_method(self, charge: g.OffSessionCharge) -> g.ChargeResult:
        time.sleep(0.05)
        with self.lock:
            self.charges.append(charge.idempotency_key)
        return super().charge_saved_method(charge)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def gateway() -> CountingGateway:
    return CountingGateway()


@pytest.fixture
def service(demo_ledger, gateway, notifier, clock) -> PaymentsService:
    return PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), gateway, notifier, clock, "http://pay.test")


def payment_entries(engine, account_ref: str) -> list:
    with engine.connect() as connection:
        account_id = connection.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == account_ref)).scalar()
        return connection.execute(select(t.ledger_entries).where(
            t.ledger_entries.c.account_id == account_id, t.ledger_entries.c.kind != "charge")
            .order_by(t.ledger_entries.c.id)).all()


def set_flags(engine, account_ref: str, flags: list) -> None:
    with engine.begin() as connection:
        connection.execute(update(t.accounts).where(t.accounts.c.account_ref == account_ref)
                           .values(flags=json.dumps(flags)))


def all_stored_text(engine) -> str:
    """Every value of every table, as text: where a card number must never appear."""
    chunks = []
    with engine.connect() as connection:
        for table in t.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                chunks.append(" ".join(str(value) for value in row))
    return "\n".join(chunks)


# --- pay now -------------------------------------------------------------------------------------


def test_pay_in_full_through_the_sandbox(service, demo_ledger, notifier):
    request = service.request_payment(MAYA, None, "full", "conv-1", "rest")
    assert request.amount == usd(77500) and request.url == f"http://pay.test/pay/{request.id}"

    outcome = service.complete_sandbox_payment(request.id, "4242 4242 4242 4242", "12/30", "123")

    assert outcome.status == "succeeded"
    assert demo_ledger.statement(MAYA).balance == usd(0)
    entries = payment_entries(demo_ledger.engine, MAYA)
    assert [(e.kind, e.amount_minor) for e in entries] == [("payment", -77500)]
    view = service.payment_request(request.id)
    assert (view.outcome, view.purpose, view.balance_after, view.account_ref) == ("paid", "full", usd(0), MAYA)
    assert notifier.sent == [("conv-1", "payment_succeeded", request.id)]
    account = demo_ledger.account_json(MAYA)
    assert account["payments"][0]["request_id"] == request.id and account["balance_cents"] == 0
    # The page cannot be paid twice.
    again = service.complete_sandbox_payment(request.id, VISA, "12/30", "123")
    assert again.status == "not_payable" and len(payment_entries(demo_ledger.engine, MAYA)) == 1
    assert VISA not in all_stored_text(demo_ledger.engine)


def test_a_declined_card_changes_nothing_and_the_consumer_is_told(service, demo_ledger, notifier):
    request = service.request_payment(MAYA, usd(2000), "partial", "conv-2", "rest")

    outcome = service.complete_sandbox_payment(request.id, DECLINED, "12/30", "123")

    assert (outcome.status, outcome.code) == ("declined", "card_declined")
    assert demo_ledger.statement(MAYA).balance == usd(77500)
    assert payment_entries(demo_ledger.engine, MAYA) == []
    status = service.status(MAYA)
    assert (status.latest.outcome, status.latest.decline_reason) == ("declined", "card_declined")
    assert notifier.sent == [("conv-2", "payment_failed", request.id)]
    # Another card on the same page goes through.
    assert service.complete_sandbox_payment(request.id, VISA, "12/30", "123").status == "succeeded"
    assert demo_ledger.statement(MAYA).balance == usd(75500)
    assert DECLINED not in all_stored_text(demo_ledger.engine)


@pytest.mark.parametrize(
    "card, exp, cvc, status, code",
    [
        (NO_FUNDS, "12/30", "123", "declined", "insufficient_funds"),
        ("4242424242424241", "12/30", "123", "invalid", "invalid_number"),  # fails Luhn
        (VISA, "10/26", "123", "invalid", "expired_card"),  # before November 2026
        (VISA, "13/30", "123", "invalid", "invalid_expiry"),
        (VISA, "12/30", "12", "invalid", "invalid_cvc"),
        ("5105105105105100", "12/30", "123", "declined", "test_mode_live_card"),  # not a test card
    ],
)
def test_sandbox_card_outcomes(service, demo_ledger, card, exp, cvc, status, code):
    request = service.request_payment(MAYA, usd(1000), "partial")
    outcome = service.complete_sandbox_payment(request.id, card, exp, cvc)
    assert (outcome.status, outcome.code) == (status, code)
    assert demo_ledger.statement(MAYA).balance == usd(77500)


@pytest.mark.parametrize(
    "account, amount, purpose, reason",
    [
        (MAYA, 499, "partial", "below_minimum"),  # Brightwork's minimum partial payment is $5
        (LUCIA, 999, "partial", "below_minimum"),  # Northwind's is $10
        (MAYA, 77501, "partial", "above_balance"),
        (MAYA, 0, "partial", "invalid_amount"),
        (LUCIA, None, "settlement", "settlement_not_offered"),  # Northwind offers no settlements
        (MAYA, 60000, "settlement", "below_minimum"),  # under the 80% floor (62,000)
    ],
)
def test_requests_policy_refuses(service, account, amount, purpose, reason):
    with pytest.raises(m.PaymentRefused) as refused:
        service.request_payment(account, None if amount is None else usd(amount), purpose)
    assert refused.value.reason == reason


def test_a_partial_payment_of_the_whole_balance_is_a_full_payment(service):
    assert service.request_payment(MAYA, usd(77500), "partial").purpose == "full"


def test_nothing_is_requested_when_collection_is_stopped_or_all_is_disputed(service, demo_ledger):
    set_flags(demo_ledger.engine, MAYA, ["bankruptcy"])
    assert service.options(MAYA).collection_stopped and service.options(MAYA).stop_reason == "bankruptcy"
    with pytest.raises(m.PaymentRefused, match="collection_stopped"):
        service.request_payment(MAYA, None, "full")
    with pytest.raises(m.PlansNotAllowed):
        service.propose_plans(MAYA)
    with pytest.raises(m.PromiseRefused, match="collection_stopped"):
        service.record_promise(MAYA, usd(1000), TODAY)
    with demo_ledger.engine.begin() as connection:
        account_id = connection.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == LUCIA)).scalar()
        connection.execute(t.holds.insert().values(account_id=account_id, amount_minor=65235, reason="dispute",
                                                   created_at=NOW))
    assert service.options(LUCIA).stop_reason == "on_hold"
    with pytest.raises(m.PaymentRefused, match="collection_stopped"):
        service.request_payment(LUCIA, None, "full")


def test_a_new_link_replaces_the_previous_one(service):
    first = service.request_payment(MAYA, usd(1000), "partial")
    second = service.request_payment(MAYA, usd(2000), "partial")
    assert service.payment_request(first.id).outcome == "cancelled"
    assert service.complete_sandbox_payment(first.id, VISA, "12/30", "123").status == "not_payable"
    assert service.complete_sandbox_payment(second.id, VISA, "12/30", "123").status == "succeeded"


# --- settle --------------------------------------------------------------------------------------


def test_settlement_at_the_floor_clears_the_balance(service, demo_ledger, clock):
    options = service.options(MAYA)
    assert options.settlement.amount == usd(62000) and options.settlement.expires == TODAY + timedelta(days=7)
    clock.now = NOW + timedelta(days=2)
    assert service.options(MAYA).settlement.expires == TODAY + timedelta(days=7)  # the same offer stands
    request = service.request_payment(MAYA, None, "settlement", "conv-s", "rest")
    assert request.amount == usd(62000)

    service.complete_sandbox_payment(request.id, VISA, "12/30", "123")

    assert demo_ledger.statement(MAYA).balance == usd(0)
    assert [(e.kind, e.amount_minor) for e in payment_entries(demo_ledger.engine, MAYA)] == [
        ("payment", -62000), ("credit", -15500)]


def test_a_creditor_without_plans_says_so(service):
    options = service.options(JAMES_CASCADE)
    assert not options.plans_allowed and options.settlement.amount == usd(25631)  # 70% of 366.15, rounded up
    with pytest.raises(m.PlansNotAllowed):
        service.propose_plans(JAMES_CASCADE)


# --- plans ---------------------------------------------------------------------------------------


def activate_plan(service, account=MAYA, count=3, card=VISA, frequency="monthly", first_due=None):
    proposal = next(p for p in service.propose_plans(account, frequency, first_due=first_due) if p.count == count) \
        if count in (2, 4, 6) else build_plan(service.options(account).collectible, frequency, count,
                                              first_due or TODAY)
    plan = service.create_plan(account, proposal, "conv-p", "rest")
    outcome = service.complete_sandbox_payment(plan.setup_request_id, card, "12/30", "123")
    assert outcome.status == "succeeded", outcome
    return plan


def test_plan_charges_each_installment_once_when_due(service, demo_ledger, gateway, notifier):
    plan = activate_plan(service, count=3)
    assert [i.amount for i in plan.installments] == [usd(25834), usd(25833), usd(25833)]
    assert service.plan(MAYA).status == "active"
    assert demo_ledger.statement(MAYA).balance == usd(77500 - 25834)  # the first one, paid on the page

    assert service.run_due(NOW + timedelta(days=1)).charged == 0  # nothing due yet
    for due in (date(2026, 12, 23), date(2027, 1, 23)):
        at = datetime(due.year, due.month, due.day, 20, tzinfo=timezone.utc)  # noon in Los Angeles
        assert service.run_due(at).succeeded == 1
        assert service.run_due(at).charged == 0

    assert demo_ledger.statement(MAYA).balance == usd(0)
    assert [e.amount_minor for e in payment_entries(demo_ledger.engine, MAYA)] == [-25834, -25833, -25833]
    assert service.plan(MAYA).status == "completed"
    assert len(gateway.charges) == len(set(gateway.charges)) == 2
    account = demo_ledger.account_json(MAYA)
    assert [i["status"] for i in account["plans"][0]["installments"]] == ["paid", "paid", "paid"]
    assert [n[1] for n in notifier.sent].count("payment_succeeded") == 3


def test_a_flagged_account_pauses_its_installments_and_records_why(service, demo_ledger, gateway):
    from bot.ledger import schema_payments as p
    from bot.ledger.disputes import SqlDisputes
    from bot.services.disputes import Disputes

    activate_plan(service, count=3)
    Disputes(SqlDisputes(demo_ledger.engine)).flag_account(MAYA, "bankruptcy", source="conversation:conv-p")
    due = datetime(2026, 12, 23, 20, tzinfo=timezone.utc)
    summary = service.run_due(due)
    assert (summary.charged, summary.paused) == (0, 1)
    with demo_ledger.engine.connect() as connection:
        reasons = connection.execute(select(p.plan_installments.c.last_error).where(
            p.plan_installments.c.seq == 2)).scalars().all()
    assert reasons == ["paused:collection_stopped:bankruptcy"]
    assert demo_ledger.statement(MAYA).balance == usd(77500 - 25834)  # nothing charged


def test_two_schedulers_racing_charge_each_installment_once(service, demo_ledger, gateway):
    activate_plan(service, count=3)
    at = datetime(2027, 1, 24, 20, tzinfo=timezone.utc)  # installments 2 and 3 are both due
    barrier = threading.Barrier(2)
    summaries = []

    def scheduler() -> None:
        barrier.wait()
        summaries.append(service.run_due(at))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(s.succeeded for s in summaries) == 2 and not any(s.errors for s in summaries)
    assert sorted(gateway.charges) == sorted(set(gateway.charges)) and len(gateway.charges) == 2
    assert demo_ledger.statement(MAYA).balance == usd(0)
    assert len(payment_entries(demo_ledger.engine, MAYA)) == 3


def test_failed_installments_are_retried_then_the_plan_breaks(service, demo_ledger, notifier, gateway):
    first = TODAY + timedelta(days=10)
    plan = activate_plan(service, count=2, card=CHARGES_FAIL, first_due=first)  # a setup-only page
    assert service.payment_request(plan.setup_request_id).purpose == "setup"
    due = datetime(2026, 12, 3, 20, tzinfo=timezone.utc)

    first_try = service.run_due(due)
    assert (first_try.failed, first_try.retries_scheduled) == (1, 1)
    assert service.run_due(due + timedelta(days=1)).charged == 0  # the retry waits three days
    assert service.run_due(due + timedelta(days=3)).retries_scheduled == 1
    last = service.run_due(due + timedelta(days=6))
    assert (last.failed, last.plans_broken) == (1, 1)

    view = service.plan(MAYA)
    assert view.status == "broken"
    assert [i.status for i in view.installments] == ["failed", "cancelled"]
    assert view.installments[0].attempts == 3
    assert demo_ledger.statement(MAYA).balance == usd(77500)
    assert [n[1] for n in notifier.sent] == ["plan_setup_complete", "payment_failed", "payment_failed", "plan_broken"]
    assert len(set(gateway.charges)) == 3  # one idempotency key per attempt


def test_a_retry_can_succeed_with_a_new_card(service, demo_ledger):
    plan = activate_plan(service, count=2, card=CHARGES_FAIL, first_due=TODAY + timedelta(days=10))
    due = datetime(2026, 12, 3, 20, tzinfo=timezone.utc)
    service.run_due(due)
    service.store.set_plan_method(plan.id, sandbox_method_token("ok"), due)
    assert service.run_due(due + timedelta(days=3)).succeeded == 1
    installment = service.plan(MAYA).installments[0]
    assert (installment.status, installment.attempts) == ("paid", 2)


def test_change_and_cancel_a_plan(service, demo_ledger):
    activate_plan(service, count=3)
    left = service.options(MAYA).collectible
    proposal = next(p for p in service.propose_plans(MAYA, "biweekly") if p.count == 2)
    assert proposal.total == left

    changed = service.change_plan(MAYA, proposal, "conv-p", "rest")

    assert changed.setup_url is None and changed.status == "active"  # the card on file carries over
    plans = demo_ledger.account_json(MAYA)["plans"]
    assert [pl["status"] for pl in plans] == ["replaced", "active"]
    assert service.cancel_plan(MAYA) is True and service.cancel_plan(MAYA) is False
    assert service.plan(MAYA).status == "cancelled"
    assert service.run_due(NOW + timedelta(days=60)).charged == 0


def test_a_confirmed_plan_is_rechecked_against_the_balance(service):
    stale = build_plan(usd(77000), "monthly", 3, TODAY)
    with pytest.raises(m.PlanRefused, match="total_mismatch"):
        service.create_plan(MAYA, stale)
    service.create_plan(MAYA, service.propose_plans(MAYA)[0])
    with pytest.raises(m.PlanRefused, match="plan_exists"):
        service.create_plan(MAYA, service.propose_plans(MAYA)[0])


def test_a_plan_never_set_up_lapses_with_its_link(service, demo_ledger):
    service.create_plan(MAYA, service.propose_plans(MAYA)[0])
    assert service.run_due(NOW + timedelta(days=2)).expired_requests == 1
    assert service.plan(MAYA).status == "cancelled"


# --- promises ------------------------------------------------------------------------------------


def test_promise_kept_by_a_payment_and_one_broken_at_its_date(service, demo_ledger):
    with pytest.raises(m.PromiseRefused, match="date_too_late"):
        service.record_promise(MAYA, usd(10000), TODAY + timedelta(days=15))
    kept = service.record_promise(MAYA, usd(10000), TODAY + timedelta(days=5), "conv-k", "rest")
    request = service.request_payment(MAYA, usd(10000), "partial")
    service.complete_sandbox_payment(request.id, VISA, "12/30", "123")
    assert [(pr.id, pr.status) for pr in demo_ledger_promises(service, MAYA)] == [(kept.id, "kept")]

    broken = service.record_promise(LUCIA, usd(5000), TODAY + timedelta(days=3))
    assert service.run_due(datetime(2026, 11, 26, 20, tzinfo=timezone.utc)).promises_broken == 0  # its own day
    summary = service.run_due(datetime(2026, 11, 27, 15, tzinfo=timezone.utc))  # the next morning in Miami
    assert summary.promises_broken == 1
    assert demo_ledger.account_json(LUCIA)["promises"][0]["status"] == "broken" and broken.id


def demo_ledger_promises(service, account_ref):
    return service.store.promises(service.store.account(account_ref).id)


# --- gateway events ------------------------------------------------------------------------------


def succeeded(event_id: str, request_id: str, amount: int, payment_ref: str = "pi_1") -> g.GatewayEvent:
    return g.GatewayEvent(id=event_id, type=g.PAYMENT_SUCCEEDED, request_id=request_id, payment_ref=payment_ref,
                          amount_minor=amount, currency="USD")


def test_the_same_event_twice_and_two_reports_of_one_payment_record_one_entry(service, demo_ledger, notifier):
    request = service.request_payment(MAYA, usd(5000), "partial", "conv-e", "rest")
    first = service.handle_gateway_event(succeeded("evt_1", request.id, 5000))
    again = service.handle_gateway_event(succeeded("evt_1", request.id, 5000))
    other = service.handle_gateway_event(succeeded("evt_2", request.id, 5000))  # e.g. checkout.session.completed

    assert not first.duplicate and again.duplicate and not other.duplicate
    assert [e.amount_minor for e in payment_entries(demo_ledger.engine, MAYA)] == [-5000]
    assert notifier.sent == [("conv-e", "payment_succeeded", request.id)]


def test_racing_deliveries_of_one_event_record_one_payment(service, demo_ledger):
    request = service.request_payment(MAYA, usd(5000), "partial")
    barrier = threading.Barrier(4)
    results = []

    def deliver() -> None:
        barrier.wait()
        results.append(service.handle_gateway_event(succeeded("evt_race", request.id, 5000)))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert [e.amount_minor for e in payment_entries(demo_ledger.engine, MAYA)] == [-5000]


def test_a_refund_before_its_payment_is_kept_and_applied(service, demo_ledger, notifier):
    request = service.request_payment(MAYA, usd(5000), "partial", "conv-r", "rest")
    refund = g.GatewayEvent(id="evt_refund", type=g.REFUNDED, payment_ref="pi_9", amount_minor=5000, currency="USD")
    assert service.handle_gateway_event(refund).pending
    assert demo_ledger.statement(MAYA).balance == usd(77500)

    service.handle_gateway_event(succeeded("evt_paid", request.id, 5000, payment_ref="pi_9"))

    assert [(e.kind, e.amount_minor) for e in payment_entries(demo_ledger.engine, MAYA)] == [
        ("payment", -5000), ("adjustment", 5000)]
    assert service.payment_request(request.id).outcome == "refunded"
    assert [n[1] for n in notifier.sent] == ["payment_succeeded", "payment_refunded"]


def test_a_failure_reported_after_the_success_changes_nothing(service, demo_ledger):
    request = service.request_payment(MAYA, usd(5000), "partial")
    service.handle_gateway_event(succeeded("evt_ok", request.id, 5000))
    service.handle_gateway_event(g.GatewayEvent(id="evt_late_fail", type=g.PAYMENT_FAILED, request_id=request.id,
                                                failure_code="card_declined"))
    assert service.payment_request(request.id).outcome == "paid"
    assert demo_ledger.statement(MAYA).balance == usd(72500)


def test_chargeback_and_its_reversal(service, demo_ledger):
    request = service.request_payment(MAYA, usd(5000), "partial")
    service.handle_gateway_event(succeeded("evt_ok", request.id, 5000, payment_ref="pi_cb"))
    dispute = dict(payment_ref="pi_cb", amount_minor=5000, currency="USD", dispute_ref="dp_1")
    service.handle_gateway_event(g.GatewayEvent(id="evt_dp", type=g.CHARGEBACK, **dispute))
    assert demo_ledger.statement(MAYA).balance == usd(77500)
    assert service.payment_request(request.id).outcome == "reversed"
    service.handle_gateway_event(g.GatewayEvent(id="evt_dp_won", type=g.CHARGEBACK_REVERSED, **dispute))
    assert demo_ledger.statement(MAYA).balance == usd(72500)


# --- notifications -------------------------------------------------------------------------------


def test_a_notification_rasa_missed_is_retried_by_the_scheduler(service, notifier, demo_ledger):
    notifier.failures_left = 1
    request = service.request_payment(MAYA, usd(5000), "partial", "conv-n", "rest")
    service.complete_sandbox_payment(request.id, VISA, "12/30", "123")
    assert notifier.sent == []
    assert service.run_due(NOW + timedelta(minutes=2)).notifications_sent == 1
    assert notifier.sent == [("conv-n", "payment_succeeded", request.id)]


def test_proactive_outcomes_wait_for_contact_hours(service, notifier, clock):
    request = service.request_payment(MAYA, usd(5000), "partial", "conv-q", "rest")
    service.complete_sandbox_payment(request.id, VISA, "12/30", "123")
    clock.now = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)  # 3am in Los Angeles
    service.handle_gateway_event(g.GatewayEvent(id="evt_night_refund", type=g.REFUNDED, request_id=request.id,
                                                amount_minor=5000, currency="USD"))
    assert [n[1] for n in notifier.sent] == ["payment_succeeded"]
    assert service.run_due(datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc)).notifications_sent == 0  # 7:30am
    assert service.run_due(datetime(2026, 11, 25, 16, 0, tzinfo=timezone.utc)).notifications_sent == 1  # 8am


def test_card_numbers_never_reach_the_database(service, demo_ledger):
    plan = service.create_plan(MAYA, service.propose_plans(MAYA)[0])
    service.complete_sandbox_payment(plan.setup_request_id, "4000 0000 0000 0341", "12/30", "123")
    service.complete_sandbox_payment(plan.setup_request_id, "4242-4242-4242-4242", "12/30", "123")
    stored = all_stored_text(demo_ledger.engine)
    for number in ("4000000000000341", "4242424242424242", "424242424242"):
        assert number not in stored
