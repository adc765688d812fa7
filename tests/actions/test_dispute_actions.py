"""Dispute, already-paid, extension, hardship and special-circumstance actions on the real ledger."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.disputes import (
    ActionDisputeStatus,
    ActionExtension,
    ActionHardship,
    ActionOpenDispute,
    ActionRecordPaymentClaim,
    ActionSpecialCircumstance,
    ValidatePaymentClaimForm,
)
from actions.payments import ActionOfferPayment, ActionOfferPlans, ActionOfferSettlement, ValidatePaymentForm
from bot.domain.money import Money
from bot.ledger.disputes import SqlDisputes
from bot.services.disputes import Disputes
from tests.actions.conftest import NOW, make_tracker, responses

MAYA = {"consumer_id": "1", "verified": True, "active_account": "BW-10001"}  # Brightwork: plans, proof for extensions
MARCUS = {"verified": True, "active_account": "SRS-40001"}  # Summit Recovery: an agency
AISHA = {"verified": True, "active_account": "CHP-30002"}  # Cascade: no plans, no extensions


@pytest.fixture
def disputes(demo_ledger):
    return Disputes(SqlDisputes(demo_ledger.engine), clock=lambda: NOW)


@pytest.fixture
def all_services(services, disputes):
    return {**services, "disputes": disputes}


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.mark.parametrize("intent, text, kind, reason", [
    ("dispute_not_mine", "this isn't mine", None, "not_mine"),  # not mine
    ("dispute_not_mine", "someone stole my identity", None, "fraud"),  # identity theft said in not-mine words
    ("dispute_not_mine", "/dispute_not_mine", "fraud", "fraud"),  # the fraud button
    ("dispute_amount", "the amount is wrong", None, "wrong_amount"),  # wrong amount
    ("dispute_service", "the work was never delivered", None, "service"),  # service not delivered
    ("dispute_not_mine", "/dispute_not_mine", "other", "other"),  # "something else"
])
async def test_every_dispute_is_recorded_held_and_handed_off(all_services, disputes, demo_ledger, intent, text, kind,
                                                            reason):
    tracker = make_tracker(text=text, intent=intent, slots=MAYA)
    if kind:
        tracker.latest_message["entities"] = [{"entity": "dispute_kind", "value": kind}]
    dispatcher, _ = await run(ActionOpenDispute(**all_services), tracker)
    assert responses(dispatcher) == ["utter_dispute_recorded", "utter_dispute_notice_released_payments"]
    assert dispatcher.messages[0]["amount"] == "$775.00"
    [dispute] = disputes.status("BW-10001")
    assert dispute.reason == reason and dispute.status == "open"
    assert demo_ledger.statement("BW-10001").collectible.is_zero()
    assert demo_ledger.handoffs()[0]["dispute_id"] == dispute.id


async def test_the_words_before_a_button_are_the_consumers_own(all_services, disputes):
    earlier = [{"event": "user", "text": "i never signed up for this", "parse_data": {"intent": {"name": "dispute_debt"}}},
               {"event": "action", "name": "utter_ask_dispute_kind"}]
    tracker = make_tracker(text="/dispute_not_mine", intent="dispute_not_mine", slots=MAYA, events=earlier)
    await run(ActionOpenDispute(**all_services), tracker)
    assert disputes.status("BW-10001")[0].consumer_words == "i never signed up for this"


async def test_a_dispute_resumed_after_verification_records_the_dispute_not_the_identity_answers(all_services,
                                                                                              disputes):
    earlier = [{"event": "user", "text": "that debt is not mine", "parse_data": {"intent": {"name": "dispute_not_mine"}}},
               {"event": "user", "text": "3/4/1985", "parse_data": {"intent": {"name": "provide_identity"}}}]
    tracker = make_tracker(text="94110", intent="provide_identity", slots=MAYA, events=earlier)
    await run(ActionOpenDispute(**all_services), tracker)
    [dispute] = disputes.status("BW-10001")
    assert (dispute.reason, dispute.consumer_words) == ("not_mine", "that debt is not mine")


async def test_a_named_disputed_amount_is_all_that_is_held(all_services, disputes, demo_ledger):
    tracker = make_tracker(text="they charged me $50 twice", intent="dispute_amount", slots=MAYA)
    await run(ActionOpenDispute(**all_services), tracker)
    assert disputes.status("BW-10001")[0].amount == Money(5000, "USD")
    assert demo_ledger.statement("BW-10001").collectible == Money(72500, "USD")


async def test_an_agency_account_always_takes_the_dispute_without_caveats(all_services, disputes):
    dispatcher, _ = await run(ActionOpenDispute(**all_services),
                              make_tracker(text="not my debt", intent="dispute_not_mine", slots=MARCUS))
    assert responses(dispatcher) == ["utter_dispute_recorded"]
    assert disputes.status("SRS-40001")[0].status == "open"


async def test_payment_offers_stop_kindly_for_a_disputed_account(all_services):
    await run(ActionOpenDispute(**all_services), make_tracker(text="not mine", intent="dispute_not_mine", slots=MAYA))
    _, slots = await run(ValidatePaymentForm(**all_services), make_tracker(text="pay $100", intent="make_payment",
                                                                            slots=MAYA))
    assert slots == {"payment_amount": "unavailable"}
    dispatcher, _ = await run(ActionOfferPayment(**all_services), make_tracker(slots={**MAYA, **slots}))
    assert responses(dispatcher) == ["utter_payment_paused_dispute"]
    for action in (ActionOfferSettlement, ActionOfferPlans):
        dispatcher, _ = await run(action(**all_services), make_tracker(slots=MAYA))
        assert responses(dispatcher) == ["utter_payment_paused_dispute"]


async def test_dispute_status_is_answered(all_services, disputes):
    dispatcher, _ = await run(ActionDisputeStatus(**all_services), make_tracker(slots=MAYA))
    assert responses(dispatcher) == ["utter_no_disputes"]
    await run(ActionOpenDispute(**all_services), make_tracker(text="not mine", intent="dispute_not_mine", slots=MAYA))
    dispatcher, _ = await run(ActionDisputeStatus(**all_services), make_tracker(slots=MAYA))
    assert responses(dispatcher) == ["utter_dispute_status_open"] and dispatcher.messages[0]["amount"] == "$775.00"


async def test_already_paid_details_are_read_from_the_messages(all_services):
    tracker = make_tracker(text="i already paid $50 on november 2", intent="claim_already_paid", slots=MAYA)
    _, slots = await run(ValidatePaymentClaimForm(**all_services), tracker)
    assert slots == {"claim_date": "2026-11-02", "claim_amount": "5000"}
    asked = {**MAYA, "requested_slot": "claim_method"}
    _, slots = await run(ValidatePaymentClaimForm(**all_services), make_tracker(text="bank transfer", intent="inform",
                                                                                 slots=asked))
    assert slots == {"claim_method": "bank transfer"}
    asked = {**MAYA, "requested_slot": "claim_date"}
    dispatcher, slots = await run(ValidatePaymentClaimForm(**all_services), make_tracker(text="hmm", slots=asked))
    assert responses(dispatcher) == ["utter_claim_date_not_understood"] and slots == {"claim_date": None}
    _, slots = await run(ValidatePaymentClaimForm(**all_services), make_tracker(text="i don't know", slots=asked))
    assert slots == {"claim_date": "unknown"}


async def test_a_payment_not_in_the_ledger_is_recorded_as_a_claim_and_held(all_services, disputes, demo_ledger):
    slots = {**MAYA, "claim_date": "2026-11-02", "claim_amount": "5000", "claim_method": "bank transfer"}
    events = [{"event": "user", "text": "I already paid this", "parse_data": {"intent": {"name": "claim_already_paid"}}}]
    dispatcher, _ = await run(ActionRecordPaymentClaim(**all_services),
                              make_tracker(text="bank transfer", intent="inform", slots=slots, events=events))
    assert responses(dispatcher) == ["utter_payment_claim_recorded"]
    [claim] = disputes.payment_claims("BW-10001")
    assert (claim.amount, claim.method, str(claim.paid_on)) == (Money(5000, "USD"), "bank transfer", "2026-11-02")
    assert "I already paid this" in claim.consumer_words
    [dispute] = disputes.status("BW-10001")
    assert dispute.reason == "already_paid" and dispute.amount == Money(5000, "USD")
    [handoff] = demo_ledger.handoffs()
    assert handoff["reason"] == "payment_claim" and claim.handoff_id == handoff["id"]


async def test_a_payment_in_the_ledger_is_found(all_services, demo_ledger, disputes):
    from sqlalchemy import select

    from bot.ledger import schema as t

    with demo_ledger.engine.begin() as connection:
        account_id = connection.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == "BW-10001")).scalar_one()
        connection.execute(t.ledger_entries.insert().values(account_id=account_id, kind="payment", amount_minor=-5000,
                                                            currency="USD", posted_at=NOW))
    slots = {**MAYA, "claim_date": NOW.date().isoformat(), "claim_amount": "5000", "claim_method": "card"}
    dispatcher, _ = await run(ActionRecordPaymentClaim(**all_services), make_tracker(slots=slots))
    assert responses(dispatcher) == ["utter_payment_found"] and dispatcher.messages[0]["amount"] == "$50.00"
    assert disputes.payment_claims("BW-10001") == [] and demo_ledger.handoffs() == []


@pytest.mark.parametrize("slots, expected, handed_off", [
    (MAYA, "utter_extension_proof", True),  # proof_required
    (MARCUS, "utter_extension_handoff", True),  # agent
    (AISHA, "utter_extension_not_offered", False),  # none: a promise or a plan instead
])
async def test_extensions_follow_creditor_policy(all_services, demo_ledger, slots, expected, handed_off):
    dispatcher, _ = await run(ActionExtension(**all_services), make_tracker(text="can i get more time",
                                                                            intent="request_extension", slots=slots))
    assert responses(dispatcher) == [expected]
    assert bool(demo_ledger.handoffs()) == handed_off


async def test_hardship_offers_the_smallest_plan(all_services):
    dispatcher, slots = await run(ActionHardship(**all_services), make_tracker(text="i lost my job", intent="hardship",
                                                                               slots=MAYA))
    assert responses(dispatcher)[:2] == ["utter_hardship_acknowledged", "utter_hardship_smallest_plan"]
    assert slots["offer_pending"] is True and '"plan"' in slots["offer"]


async def test_hardship_without_plans_goes_to_a_person(all_services, demo_ledger):
    dispatcher, slots = await run(ActionHardship(**all_services), make_tracker(text="i lost my job", intent="hardship",
                                                                               slots=AISHA))
    assert responses(dispatcher) == ["utter_hardship_acknowledged", "utter_hardship_handoff"]
    assert slots["offer_pending"] is False and demo_ledger.handoffs()[0]["reason"] == "hardship"


@pytest.mark.parametrize("intent, flag, response", [
    ("bankruptcy", "bankruptcy", "utter_special_bankruptcy"),
    ("attorney_represented", "attorney", "utter_special_attorney"),
    ("deceased", "deceased", "utter_special_deceased"),
    ("cease_communication", "cease_communication", "utter_special_cease_communication"),
])
async def test_special_circumstances_stop_collection_at_once(all_services, disputes, demo_ledger, intent, flag,
                                                            response):
    dispatcher, _ = await run(ActionSpecialCircumstance(**all_services), make_tracker(text="...", intent=intent,
                                                                                      slots=MAYA))
    assert responses(dispatcher) == [response]
    assert disputes.collection_stopped("BW-10001") == flag
    assert demo_ledger.handoffs()[0]["reason"] == flag


async def test_before_verification_a_special_circumstance_discloses_nothing(all_services, disputes):
    tracker = make_tracker(sender="+14155550101", text="i filed for bankruptcy", intent="bankruptcy",
                           slots={"verified": False})
    dispatcher, _ = await run(ActionSpecialCircumstance(**all_services), tracker)
    assert responses(dispatcher) == ["utter_special_noted"]
    assert disputes.collection_stopped("BW-10001") == "bankruptcy"
