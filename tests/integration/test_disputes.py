"""The Disputes service on the real ledger (SQLite and PostgreSQL): disputes, holds, handoffs, flags, claims."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from bot.domain.money import Money
from bot.ledger import schema as t
from bot.ledger import schema_disputes as d
from bot.ledger.disputes import SqlDisputes
from bot.services.disputes import Disputes

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)
WORDS = "this isn't mine, I never hired anyone on Brightwork"


@pytest.fixture
def disputes(demo_ledger, engine) -> Disputes:
    return Disputes(SqlDisputes(engine), language_of=lambda ref: demo_ledger.statement(ref).consumer.language,
                    clock=lambda: NOW)


def open_one(disputes, ref="BW-10001", reason="not_mine", amount=None, turn="t1", words=WORDS):
    return disputes.open_dispute(ref, conversation_id="+14155550101", channel="webchat", reason=reason, words=words,
                                 amount=amount, transcript=[{"role": "user", "text": words}], turn_key=turn)


def test_a_dispute_holds_the_whole_balance_and_queues_a_prioritised_handoff(disputes, demo_ledger):
    opened = open_one(disputes)
    assert opened.created and opened.dispute.status == "open"
    assert opened.dispute.amount == Money(77500, "USD")
    statement = demo_ledger.statement("BW-10001")
    assert statement.held == Money(77500, "USD") and statement.collectible.is_zero()
    handoff = demo_ledger.handoffs()[0]
    assert handoff["reason"] == "dispute:not_mine" and handoff["dispute_id"] == opened.dispute.id
    assert handoff["priority"] > 0 and handoff["transcript"][0]["text"] == WORDS
    assert opened.dispute.hold_id == statement.holds[0].id and opened.dispute.handoff_id == handoff["id"]


def test_a_named_amount_is_what_is_held(disputes, demo_ledger):
    opened = open_one(disputes, reason="wrong_amount", amount=Money(12500, "USD"))
    assert opened.dispute.amount == Money(12500, "USD")
    assert demo_ledger.statement("BW-10001").collectible == Money(65000, "USD")


def test_the_same_turn_opens_one_dispute(disputes, demo_ledger):
    first = open_one(disputes)
    again = open_one(disputes)
    assert not again.created and again.dispute.id == first.dispute.id
    assert len(demo_ledger.statement("BW-10001").holds) == 1 and len(demo_ledger.handoffs()) == 1


def test_card_numbers_never_reach_the_dispute(disputes):
    opened = open_one(disputes, words="charged twice on 4242 4242 4242 4242")
    assert "4242 4242" not in opened.dispute.consumer_words


def test_account_json_lists_disputes_and_holds(disputes, demo_ledger):
    open_one(disputes)
    view = demo_ledger.account_json("BW-10001")
    assert [(x["reason"], x["status"], x["amount_cents"]) for x in view["disputes"]] == [("not_mine", "open", 77500)]
    assert view["holds"][0]["amount_cents"] == 77500 and view["disputes"][0]["hold_id"] == view["holds"][0]["id"]


def test_uphold_credits_once_and_releases_the_hold(disputes, demo_ledger):
    opened = open_one(disputes, reason="wrong_amount", amount=Money(12500, "USD"))
    resolution = disputes.uphold(opened.dispute.id, "ana", "invoice was cancelled")
    assert resolution.changed and resolution.adjustment == Money(12500, "USD")
    assert resolution.notice.response == "utter_dispute_upheld" and resolution.notice.arguments["amount"] == "$125.00"
    statement = demo_ledger.statement("BW-10001")
    assert statement.balance == Money(65000, "USD") and statement.holds == ()
    again = disputes.uphold(opened.dispute.id, "ana", "again")
    assert not again.changed and again.adjustment is None
    assert demo_ledger.statement("BW-10001").balance == Money(65000, "USD")
    assert disputes.status("BW-10001")[0].status == "upheld"
    assert disputes.dispute(opened.dispute.id).agent == "ana"


def test_verify_releases_the_hold_and_says_what_to_send(disputes, demo_ledger):
    opened = open_one(disputes)
    resolution = disputes.verify(opened.dispute.id, "ana", "signed contract on file")
    assert resolution.notice.response == "utter_dispute_verified" and resolution.adjustment is None
    statement = demo_ledger.statement("BW-10001")
    assert statement.balance == Money(77500, "USD") and statement.collectible == Money(77500, "USD")
    assert not disputes.uphold(opened.dispute.id, "ana", "too late").changed


def test_spanish_consumers_get_their_notice_in_spanish(disputes):
    opened = open_one(disputes, ref="NW-20001", words="esto no es mío")
    notice = disputes.verify(opened.dispute.id, "ana", "ok").notice
    assert notice.language == "es" and notice.arguments["amount"] == "$652.35"  # es_US


def test_a_disputes_recorded_facts_never_change(disputes, engine):
    open_one(disputes)
    with pytest.raises(DBAPIError):
        with engine.begin() as connection:
            connection.execute(update(d.disputes).values(consumer_words="changed"))
    with pytest.raises(DBAPIError):
        with engine.begin() as connection:
            connection.execute(delete(d.disputes))


def test_flags_stop_collection_at_once_and_are_append_only(disputes, demo_ledger, engine):
    assert disputes.collection_stopped("BW-10001") is None
    assert disputes.flag_account("BW-10001", "bankruptcy", source="conversation:+14155550101",
                                 words="I filed chapter 7", conversation_id="+14155550101", channel="sms")
    assert disputes.collection_stopped("BW-10001") == "bankruptcy"
    assert "bankruptcy" in demo_ledger.statement("BW-10001").flags
    assert demo_ledger.handoffs()[0]["reason"] == "bankruptcy"
    assert not disputes.flag_account("BW-10001", "bankruptcy", source="again")  # nothing new written
    assert [h["flag"] for h in disputes.flag_history("BW-10001")] == ["bankruptcy"]
    with pytest.raises(DBAPIError):
        with engine.begin() as connection:
            connection.execute(update(d.account_flags).values(source="changed"))


def test_an_agent_can_clear_a_flag_and_the_history_keeps_both(disputes):
    disputes.flag_account("BW-10001", "attorney", source="conversation:x")
    assert disputes.clear_flag("BW-10001", "attorney", source="agent:ana", note="wrong account")
    assert disputes.collection_stopped("BW-10001") is None
    assert [(h["flag"], h["active"]) for h in disputes.flag_history("BW-10001")] == [("attorney", True),
                                                                                   ("attorney", False)]


def test_a_claimed_payment_is_found_in_the_ledger(disputes, engine):
    with engine.begin() as connection:
        account_id = connection.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == "BW-10001")).scalar_one()
        connection.execute(t.ledger_entries.insert().values(
            account_id=account_id, kind="payment", amount_minor=-5000, currency="USD", posted_at=NOW - timedelta(days=3)))
    assert disputes.find_payment("BW-10001", Money(5000, "USD"), (NOW - timedelta(days=1)).date()) is not None
    assert disputes.find_payment("BW-10001", Money(5000, "USD"), date(2026, 1, 1)) is None
    assert disputes.find_payment("BW-10001", Money(4000, "USD"), None) is None


def test_a_payment_claim_is_recorded_with_a_handoff(disputes, demo_ledger):
    claim = disputes.record_payment_claim("BW-10001", conversation_id="c1", channel="sms", paid_on=date(2026, 11, 2),
                                          amount=Money(5000, "USD"), method="bank transfer", words="I paid already",
                                          turn_key="c1:1")
    assert claim.amount == Money(5000, "USD") and claim.method == "bank transfer"
    assert demo_ledger.handoffs()[0]["reason"] == "payment_claim"
    again = disputes.record_payment_claim("BW-10001", conversation_id="c1", channel="sms", paid_on=None, amount=None,
                                          method=None, words="I paid already", turn_key="c1:1")
    assert again.id == claim.id and len(disputes.payment_claims("BW-10001")) == 1
