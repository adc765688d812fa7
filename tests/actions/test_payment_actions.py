"""The payment conversation's actions against the real payments service (sandbox gateway, real ledger)."""
from __future__ import annotations

import json

from rasa_sdk.executor import CollectingDispatcher

from actions.payments import (
    ActionAcceptOffer,
    ActionChoosePlan,
    ActionDeclineOffer,
    ActionOfferPayment,
    ActionOfferPlans,
    ActionOfferSettlement,
    ActionPaymentOutcome,
    ValidatePaymentForm,
    ValidatePromiseForm,
)
from tests.actions.conftest import make_tracker, responses

MAYA = {"consumer_id": "1", "verified": True, "active_account": "BW-10001"}  # Brightwork: plans, settlement 80%
AISHA = {"verified": True, "active_account": "CHP-30002"}  # Cascade: no plans


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def after(action_name, slots, text="yes", intent="affirm"):
    """A tracker whose previous bot action was `action_name` (the offer), answered with `text`."""
    return make_tracker(text=text, intent=intent, slots=slots, events=[
        {"event": "user", "text": "..."}, {"event": "action", "name": action_name},
        {"event": "action", "name": "action_listen"}])


async def test_an_amount_said_up_front_is_read_and_checked(services):
    tracker = make_tracker(text="i can pay $100 now", intent="make_payment", slots=MAYA)
    _, slots = await run(ValidatePaymentForm(**services), tracker)
    assert slots == {"payment_amount": "10000"}


async def test_an_amount_above_the_balance_is_refused_kindly(services):
    tracker = make_tracker(text="$5000", intent="inform", slots={**MAYA, "requested_slot": "payment_amount"})
    dispatcher, slots = await run(ValidatePaymentForm(**services), tracker)
    assert responses(dispatcher) == ["utter_amount_above_balance"]
    assert slots == {"payment_amount": None}


async def test_a_confirmed_payment_creates_exactly_one_link_for_the_confirmed_amount(services, payments):
    dispatcher, slots = await run(ActionOfferPayment(**services), make_tracker(slots={**MAYA, "payment_amount": "10000"}))
    assert responses(dispatcher) == ["utter_confirm_payment"] and dispatcher.messages[0]["amount"] == "$100.00"
    assert slots["offer_pending"] is True
    dispatcher, slots = await run(ActionAcceptOffer(**services), after("action_offer_payment", {**MAYA, **slots}))
    assert responses(dispatcher) == ["utter_payment_link"]
    assert "/pay/" in dispatcher.messages[0]["url"]
    assert slots["offer_pending"] is False
    status = payments.status("BW-10001")
    assert [(r.amount.minor, r.outcome) for r in status.requests] == [(10000, "pending")]


async def test_no_creates_nothing(services, payments):
    _, slots = await run(ActionOfferPayment(**services), make_tracker(slots={**MAYA, "payment_amount": "10000"}))
    dispatcher, _ = await run(ActionDeclineOffer(**services), after("action_offer_payment", {**MAYA, **slots}, "no", "deny"))
    assert responses(dispatcher) == ["utter_offer_withdrawn", "utter_anything_else"]
    assert payments.status("BW-10001").requests == ()


async def test_a_stale_yes_creates_nothing(services, payments):
    _, slots = await run(ActionOfferPayment(**services), make_tracker(slots={**MAYA, "payment_amount": "10000"}))
    dispatcher, _ = await run(ActionAcceptOffer(**services), after("action_show_balance", {**MAYA, **slots}))
    assert responses(dispatcher) == ["utter_offer_expired"]
    assert payments.status("BW-10001").requests == ()


async def test_settlement_offer_within_the_creditor_floor(services, demo_ledger):
    dispatcher, slots = await run(ActionOfferSettlement(**services), make_tracker(slots=MAYA))
    assert responses(dispatcher) == ["utter_settlement_offer"]
    balance = demo_ledger.statement("BW-10001").balance
    offer = json.loads(slots["offer"])
    assert offer["amount"] == [-(-balance.minor * 80 // 100), "USD"]  # 80% floor, rounded up


async def test_a_creditor_without_plans_gets_a_kind_no_and_the_alternatives(services):
    dispatcher, slots = await run(ActionOfferPlans(**services), make_tracker(text="payment plan", slots=AISHA))
    assert responses(dispatcher) == ["utter_no_plans"]
    assert dispatcher.messages[0]["creditor"] == "Cascade Health Partners"
    assert slots["plans_offered"] is False


async def test_plans_built_from_what_the_consumer_can_afford_sum_to_the_balance(services, demo_ledger):
    balance = demo_ledger.statement("BW-10001").balance
    tracker = make_tracker(text="i can do 300 a month", intent="inform", slots=MAYA)
    dispatcher, slots = await run(ActionOfferPlans(**services), tracker)
    assert responses(dispatcher)[0] == "utter_plan_options"
    assert responses(dispatcher)[1] == "utter_plan_option_monthly"
    options = json.loads(slots["plan_options"])
    for option in options:
        assert sum(amount for _, (amount, _) in option["installments"]) == balance.minor
        assert max(amount for _, (amount, _) in option["installments"]) <= 30000
    chosen = make_tracker(text="plan 1", intent="choose_plan", slots={**MAYA, **slots})
    dispatcher, slots = await run(ActionChoosePlan(**services), chosen)
    assert responses(dispatcher) == ["utter_confirm_plan_monthly"]
    assert slots["offer_pending"] is True


async def test_a_promise_past_the_creditor_limit_is_not_taken(services):
    tracker = make_tracker(text="i'll pay $200 on jan 30", intent="promise_to_pay", slots=MAYA)
    dispatcher, slots = await run(ValidatePromiseForm(**services), tracker)
    assert slots["promise_amount"] == "20000" and slots["promise_date"] is None
    assert responses(dispatcher) == ["utter_promise_date_too_late"]


async def test_a_declined_payment_is_told_kindly_with_the_link_to_try_again(services, payments):
    request = payments.request_payment("BW-10001", payments.options("BW-10001").collectible, "full", "+14155550101",
                                       "sms")
    payments.complete_sandbox_payment(request.id, "4000000000000002", "12/30", "123")
    tracker = make_tracker(text="/EXTERNAL_payment_outcome", intent="EXTERNAL_payment_outcome", slots=MAYA)
    tracker.latest_message["entities"] = [{"entity": "payment_request_id", "value": request.id},
                                          {"entity": "payment_event", "value": "payment_failed"}]
    dispatcher, _ = await run(ActionPaymentOutcome(**services), tracker)
    assert responses(dispatcher) == ["utter_payment_declined"]
    assert dispatcher.messages[0]["url"] == request.url


async def test_changing_a_live_plan_keeps_the_card_and_replaces_the_schedule(services, payments):
    proposals = payments.propose_plans("BW-10001")
    payments.create_plan("BW-10001", proposals[0], "+14155550101", "sms")
    tracker = make_tracker(text="can i change my plan to weekly", intent="change_plan", slots=MAYA)
    dispatcher, slots = await run(ActionOfferPlans(**services), tracker)
    assert responses(dispatcher)[0] == "utter_plan_options", responses(dispatcher)
    _, slots = await run(ActionChoosePlan(**services), make_tracker(text="plan 1", intent="choose_plan",
                                                                     slots={**MAYA, **slots}))
    dispatcher, _ = await run(ActionAcceptOffer(**services), after("action_choose_plan", {**MAYA, **slots}))
    assert responses(dispatcher) in (["utter_plan_changed"], ["utter_plan_created"])
    plan = payments.status("BW-10001").active_plan
    assert plan is not None and sum(i.amount.minor for i in plan.installments) == plan.total.minor
