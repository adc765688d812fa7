"""The dashboard's KPIs against a ledger with known activity, on SQLite and PostgreSQL.

One week (1-7 November 2026) with activity just outside it on both sides; Brightwork (BW-10001, Maya)
and Northwind (NW-20001, Lucía) from the demo placement, plus a conversation nobody was identified in.
"""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import insert, select

from bot.ledger import schema as t
from bot.ledger import schema_agents as ag
from bot.ledger import schema_disputes as ds
from bot.ledger import schema_payments as p
from bot.reporting.kpis import Filters, KpiReport

WEEK = dict(start=date(2026, 11, 1), end=date(2026, 11, 7))


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


def message(conversation, when, account_ref=None, direction="in"):
    return dict(direction=direction, channel="sms", address=conversation, conversation_id=conversation,
                account_ref=account_ref, kind="message", body="…", recorded_at=when)


def request_row(id, account_id, amount, purpose, status, completed=None):
    return dict(id=id, account_id=account_id, amount_minor=amount, currency="USD", purpose=purpose, status=status,
                gateway="sandbox", idempotency_key=id, save_method=False, refunded_minor=0, disputed_minor=0,
                expires_at=at(20), created_at=at(1), updated_at=completed or at(1), completed_at=completed)


def plan_row(account_id, status, created, ended=None):
    return dict(account_id=account_id, frequency="monthly", status=status, total_minor=30000, currency="USD",
                misses=0, created_at=created, updated_at=ended or created, ended_at=ended)


def promise_row(account_id, status, created, resolved=None):
    return dict(account_id=account_id, amount_minor=5000, currency="USD", due=created.date(), status=status,
                created_at=created, resolved_at=resolved)


@pytest.fixture
def report(engine, demo_ledger) -> KpiReport:
    with engine.begin() as db:
        accounts = {r.account_ref: (r.id, r.consumer_id) for r in db.execute(select(t.accounts))}
        bw, maya = accounts["BW-10001"]
        nw, lucia = accounts["NW-20001"]
        db.execute(insert(t.communications), [
            message("c0", at(30, month=10), "BW-10001"), message("c0", at(2), "BW-10001"),  # began before
            message("c1", at(2)), message("c1", at(2, 11), "BW-10001", "out"), message("c1", at(2, 12), "BW-10001"),
            message("c2", at(3), "NW-20001"),
            message("c3", at(4)),  # never identified: counts only for all creditors
            message("c4", at(9), "BW-10001"),  # after the week
        ])
        db.execute(insert(t.verification_attempts), [
            dict(consumer_id=maya, succeeded=True, channel="sms", address="c1", attempted_at=at(2, 11)),
            dict(consumer_id=lucia, succeeded=False, channel="sms", address="c2", attempted_at=at(3, 11)),
            dict(consumer_id=lucia, succeeded=True, channel="sms", address="c2", attempted_at=at(3, 12)),
            dict(consumer_id=maya, succeeded=True, channel="sms", address="c0", attempted_at=at(30, month=10)),
        ])
        db.execute(insert(t.handoffs), [dict(conversation_id="c2", channel="sms", account_ref="NW-20001",
                                             reason="dispute_debt", status="assigned", priority=0, transcript="[]",
                                             created_at=at(3, 13))])
        db.execute(insert(ag.agent_messages), [  # the first reply 45 minutes after the handoff
            dict(handoff_id=1, agent_username="jlee", body="Hello", created_at=datetime(2026, 11, 3, 13, 45,
                                                                                         tzinfo=timezone.utc)),
            dict(handoff_id=1, agent_username="jlee", body="Done", created_at=at(3, 15)),
        ])
        db.execute(insert(t.ledger_entries), [
            dict(account_id=bw, kind="payment", amount_minor=-5000, currency="USD", posted_at=at(2, 15)),
            dict(account_id=bw, kind="payment", amount_minor=-2500, currency="USD", posted_at=at(5)),
            dict(account_id=nw, kind="payment", amount_minor=-10000, currency="USD", posted_at=at(3, 16)),
            dict(account_id=bw, kind="payment", amount_minor=-999, currency="USD", posted_at=at(31, month=10)),
        ])
        db.execute(insert(p.payment_requests), [
            request_row("pr-settle", nw, 10000, "settlement", "succeeded", at(3, 16)),
            request_row("pr-open", bw, 5000, "settlement", "open"),
        ])
        db.execute(insert(p.payment_plans), [plan_row(bw, "active", at(2, 16)),
                                             plan_row(nw, "broken", at(20, month=10), ended=at(4))])
        db.execute(insert(p.promises), [
            promise_row(bw, "kept", at(1), resolved=at(5)),  # kept within 7 days
            promise_row(bw, "kept", at(2), resolved=at(12)),  # kept, but after 10 days
            promise_row(nw, "broken", at(3), resolved=at(6)),
        ])
        db.execute(insert(t.consents), [
            dict(channel="sms", address="+14155550101", granted=False, source="STOP", recorded_at=at(4)),
            dict(channel="whatsapp", address="whatsapp:+13055550102", granted=False, source="STOP", recorded_at=at(5)),
            dict(channel="sms", address="+14155550101", granted=True, source="START", recorded_at=at(6)),
            dict(channel="sms", address="+19995550000", granted=False, source="STOP", recorded_at=at(5)),
        ])
    return KpiReport(engine)


def test_every_kpi_for_all_creditors(report):
    kpis = report.kpis(Filters(**WEEK))
    assert kpis == {
        "conversations_started": 3,
        "conversations_verified": 2,
        "conversations_contained": 2,
        "containment_rate": 0.6667,
        "collected": {"USD": 17500},
        "collected_per_conversation": {"USD": 5833},
        "payments": 3,
        "settlements": 1,
        "plans_created": 1,
        "plans_active": 1,
        "plans_broken": 1,
        "promises_made": 3,
        "promises_kept_7d": 1,
        "promise_kept_rate": 0.3333,
        "disputes_opened": 0,
        "disputes_resolved": 0,
        "dispute_open_age_days": None,
        "handoffs": 1,
        "first_reply_minutes": 45.0,
        "opt_outs": 3,
    }


@pytest.mark.parametrize("creditor, expected", [
    # Brightwork: Maya's conversation, two payments, her plan and promises, her STOP
    ("brightwork", dict(conversations_started=1, conversations_verified=1, conversations_contained=1,
                        containment_rate=1.0, collected={"USD": 7500}, payments=2, settlements=0, plans_created=1,
                        plans_active=1, plans_broken=0, promises_made=2, promises_kept_7d=1, handoffs=0, opt_outs=1)),
    # Northwind: Lucía's conversation went to an agent; her settlement, broken plan and WhatsApp STOP
    ("northwind", dict(conversations_started=1, conversations_verified=1, conversations_contained=0,
                       containment_rate=0.0, collected={"USD": 10000}, payments=1, settlements=1, plans_created=0,
                       plans_active=0, plans_broken=1, promises_made=1, promises_kept_7d=0, handoffs=1, opt_outs=1)),
])
def test_kpis_of_one_creditor(report, creditor, expected):
    kpis = report.kpis(Filters(creditor_id=creditor, **WEEK))
    assert {key: kpis[key] for key in expected} == expected


def test_daily_series_for_the_charts(report):
    days = {d["day"]: d for d in report.daily(Filters(**WEEK))}
    assert list(days) == [f"2026-11-0{n}" for n in range(1, 8)]
    assert [days[f"2026-11-0{n}"]["conversations_started"] for n in range(1, 8)] == [0, 1, 1, 1, 0, 0, 0]
    assert days["2026-11-02"]["collected"] == {"USD": 5000}
    assert days["2026-11-05"]["collected"] == {"USD": 2500}
    assert days["2026-11-01"]["collected"] == {}


def test_an_empty_period_has_zeros_and_no_rates(report):
    kpis = report.kpis(Filters(start=date(2026, 12, 1), end=date(2026, 12, 2)))
    assert kpis["conversations_started"] == 0 and kpis["containment_rate"] is None
    assert kpis["collected"] == {} and kpis["collected_per_conversation"] == {}


def test_creditors_for_the_filter(report):
    assert [c["id"] for c in report.creditors()] == ["brightwork", "cascade", "northwind", "summit"]


@pytest.fixture
def disputes(report, engine):
    table = ds.disputes
    with engine.begin() as db:
        nw = db.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == "NW-20001")).scalar_one()
        bw = db.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == "BW-10001")).scalar_one()
        common = dict(conversation_id="c2", channel="sms", reason="not_mine", consumer_words="not mine",
                      amount_minor=1000, currency="USD")
        db.execute(insert(table), [
            dict(common, account_id=nw, status="open", opened_at=at(3), resolved_at=None, turn_key="1"),
            dict(common, account_id=nw, status="verified", opened_at=at(2), resolved_at=at(5), turn_key="2"),
            dict(common, account_id=bw, status="open", opened_at=at(6), resolved_at=None, turn_key="3"),
            dict(common, account_id=bw, status="upheld", opened_at=at(20, month=10), resolved_at=at(10), turn_key="4"),
        ])


def test_disputes_opened_resolved_and_their_age(report, disputes):
    # Open at the end of 7 November (midnight): NW opened 3 Nov 10:00 (4.58 days), BW opened 6 Nov 10:00
    # (1.58 days) and BW resolved only on 10 Nov (opened 20 Oct 10:00: 18.58 days).
    kpis = report.kpis(Filters(**WEEK))
    assert (kpis["disputes_opened"], kpis["disputes_resolved"], kpis["dispute_open_age_days"]) == (3, 1, 8.2)
    northwind = report.kpis(Filters(creditor_id="northwind", **WEEK))
    assert (northwind["disputes_opened"], northwind["disputes_resolved"], northwind["dispute_open_age_days"]) == (2, 1, 4.6)


def test_open_disputes_are_aged_to_now_when_the_period_has_not_ended(engine, report, disputes):
    midday = KpiReport(engine, clock=lambda: at(7, 12))  # 7 November, noon: the week is not over
    northwind = midday.kpis(Filters(creditor_id="northwind", **WEEK))
    assert northwind["dispute_open_age_days"] == 4.1  # opened 3 November 10:00
