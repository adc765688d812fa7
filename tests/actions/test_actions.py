from datetime import timedelta

import pytest

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionShowBalance, ActionShowCreditor
from actions.conversation import ActionFallback, ActionHandoff
from actions.session import ActionSessionStart
from actions.verification import ActionStartVerification, ActionVerifyIdentity, ValidateVerificationForm
from tests.actions.conftest import NOW, make_tracker, responses


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, events


async def test_session_start_identifies_by_phone_and_sets_the_placement_language(services, demo_ledger):
    lucia = demo_ledger.consumer_by_phone("+13055550102")
    tracker = make_tracker(sender="+13055550102", slots={"session_started_metadata": {}})
    dispatcher, events = await run(ActionSessionStart(**services), tracker)
    slots = slots_of(events)
    assert slots["consumer_id"] == str(lucia.id) and slots["language"] == "es"
    assert responses(dispatcher) == ["utter_session_greeting"]
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"


async def test_session_start_does_not_identify_a_web_visitor_by_a_phone_looking_id(services):
    tracker = make_tracker(sender="+14155550101", channel="socketio", slots={"session_started_metadata": {}})
    _, events = await run(ActionSessionStart(**services), tracker)
    assert "consumer_id" not in slots_of(events)


async def test_rasa_shell_as_a_phone_number_identifies_that_consumer(services, demo_ledger):
    # `make shell AS=+14155550101`: the designer's terminal speaks as the demo consumer's phone.
    tracker = make_tracker(sender="+14155550101", channel="cmdline", slots={"session_started_metadata": {}})
    _, events = await run(ActionSessionStart(**services), tracker)
    assert slots_of(events)["consumer_id"] == str(demo_ledger.consumer_by_phone("+14155550101").id)


async def test_start_verification_remembers_the_question_and_opens_the_form(services):
    tracker = make_tracker(text="how much do i owe", intent="ask_balance")
    dispatcher, events = await run(ActionStartVerification(**services), tracker)
    slots = slots_of(events)
    assert slots["pending_request"] == "ask_balance" and slots["can_verify"] is True
    assert responses(dispatcher) == ["utter_verification_intro"]


async def test_unknown_web_visitor_is_asked_for_an_account_reference_and_a_code(services):
    tracker = make_tracker(sender="web-1", channel="socketio", text="balance", intent="ask_balance")
    dispatcher, events = await run(ActionStartVerification(**services), tracker)
    assert slots_of(events)["can_verify"] is False
    assert responses(dispatcher) == ["utter_verification_intro"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "web_identity_form"}


async def test_an_unknown_phone_number_is_asked_for_the_personal_link(services):
    tracker = make_tracker(sender="+19995550123", channel="sms", text="balance", intent="ask_balance")
    dispatcher, events = await run(ActionStartVerification(**services), tracker)
    assert slots_of(events)["can_verify"] is False
    assert responses(dispatcher) == ["utter_need_personal_link"]


async def test_form_seals_answers_so_the_tracker_never_holds_them(services):
    tracker = make_tracker(text="3/4/85 94110", intent="provide_identity", slots={"requested_slot": "dob_answer"})
    _, events = await run(ValidateVerificationForm(**services), tracker)
    slots = slots_of(events)
    assert "1985" not in slots["dob_answer"] and "94110" not in slots["zip_answer"]
    assert services["sealer"].unseal(slots["dob_answer"]) == "1985-03-04"
    assert services["sealer"].unseal(slots["zip_answer"]) == "94110"


async def test_form_asks_again_when_the_date_is_unreadable(services):
    tracker = make_tracker(text="idk", intent="inform", slots={"requested_slot": "dob_answer"})
    dispatcher, events = await run(ValidateVerificationForm(**services), tracker)
    assert responses(dispatcher) == ["utter_dob_not_understood"]
    assert events == [SlotSet("dob_answer", None)]


async def test_form_steps_aside_for_a_request_for_a_person(services):
    tracker = make_tracker(text="agent", intent="request_human", slots={"requested_slot": "dob_answer"})
    dispatcher, events = await run(ValidateVerificationForm(**services), tracker)
    assert events == [] and dispatcher.messages == []


def answered(services, consumer_id, dob, postal, pending="ask_balance"):
    sealer = services["sealer"]
    return make_tracker(slots={"consumer_id": str(consumer_id), "dob_answer": sealer.seal(dob),
                               "zip_answer": sealer.seal(postal), "pending_request": pending})


async def test_right_answers_verify_and_answer_the_pending_question(services, demo_ledger):
    maya = demo_ledger.consumer_by_phone("+14155550101")
    dispatcher, events = await run(ActionVerifyIdentity(**services), answered(services, maya.id, "1985-03-04", "94110"))
    slots = slots_of(events)
    assert slots["verified"] is True and slots["dob_answer"] is None and slots["zip_answer"] is None
    assert responses(dispatcher) == ["utter_verified", "utter_balance_due"]
    balance = dispatcher.messages[1]
    assert balance["creditor"] == "Brightwork Marketplace"
    expected = demo_ledger.statement("BW-10001").balance
    assert balance["balance"] == f"${expected.minor // 100:,}.{expected.minor % 100:02d}"


async def test_wrong_answers_never_say_which_one_was_wrong_and_lock_on_the_third(services, demo_ledger):
    maya = demo_ledger.consumer_by_phone("+14155550101")
    action = ActionVerifyIdentity(**services)
    seen = []
    for wrong in [("1985-03-04", "00000"), ("1990-01-01", "94110"), ("1990-01-01", "00000")]:
        dispatcher, events = await run(action, answered(services, maya.id, *wrong))
        seen.append((responses(dispatcher), slots_of(events).get("verified")))
    assert seen[0] == seen[1] == (["utter_verification_failed"], None)
    assert seen[2] == (["utter_verification_locked"], None)
    # The right answers do not help while locked.
    dispatcher, _ = await run(ActionStartVerification(**services), make_tracker(
        text="balance", intent="ask_balance", slots={"consumer_id": str(maya.id)}))
    assert responses(dispatcher) == ["utter_verification_locked"]


async def test_lock_ends_after_24_hours(services, demo_ledger):
    maya = demo_ledger.consumer_by_phone("+14155550101")
    for _ in range(3):
        demo_ledger.record_verification_attempt(maya.id, False, "sms", "+14155550101", NOW - timedelta(hours=25))
    dispatcher, events = await run(ActionStartVerification(**services), make_tracker(
        text="balance", intent="ask_balance", slots={"consumer_id": str(maya.id)}))
    assert slots_of(events)["can_verify"] is True


async def test_agency_accounts_get_the_debt_collector_disclosures_first(services, demo_ledger):
    sofia = demo_ledger.consumer_by_account_ref("SRS-40001")
    tracker = answered(services, sofia.id, "1992-05-30", "00907", pending="ask_creditor")
    dispatcher, _ = await run(ActionVerifyIdentity(**services), tracker)
    assert responses(dispatcher) == ["utter_verified", "utter_debt_collector_disclosure",
                                     "utter_attempt_to_collect", "utter_creditor_agency"]
    assert dispatcher.messages[-1]["creditor"] == "Lakeview Telecom"
    assert dispatcher.messages[-1]["collector"] == "Summit Recovery Services"


async def test_consumer_with_two_accounts_hears_both_balances(services, demo_ledger):
    james = demo_ledger.consumer_by_phone("+13125550103")
    tracker = make_tracker(sender="+13125550103", text="balance", intent="ask_balance",
                           slots={"consumer_id": str(james.id), "verified": True})
    dispatcher, _ = await run(ActionShowBalance(**services), tracker)
    creditors = {m["creditor"] for m in dispatcher.messages}
    assert creditors == {"Northwind Lending", "Cascade Health Partners"}


async def test_naming_an_account_reference_switches_to_it(services, demo_ledger):
    james = demo_ledger.consumer_by_phone("+13125550103")
    tracker = make_tracker(sender="+13125550103", text="who is chp-30001 owed to", intent="ask_creditor",
                           slots={"consumer_id": str(james.id), "verified": True, "active_account": "NW-20002"})
    dispatcher, events = await run(ActionShowCreditor(**services), tracker)
    assert dispatcher.messages[0]["creditor"] == "Cascade Health Partners"
    assert slots_of(events)["active_account"] == "CHP-30001"
    assert responses(dispatcher)[-1] == "utter_other_accounts"


async def test_a_date_of_birth_given_unprompted_is_kept(services):
    tracker = make_tracker(text="my dob is 3/4/85", intent="provide_identity")
    _, events = await run(ActionStartVerification(**services), tracker)
    slots = slots_of(events)
    assert services["sealer"].unseal(slots["dob_answer"]) == "1985-03-04"
    assert slots["can_verify"] is True


async def test_two_misses_in_a_row_offer_a_person(services):
    first = make_tracker(sender="web-1", text="blorp", intent="nlu_fallback")
    dispatcher, _ = await run(ActionFallback(**services), first)
    assert responses(dispatcher) == ["utter_rephrase"]
    after_a_miss = make_tracker(sender="web-1", text="pizza?", intent="out_of_scope", events=[
        {"event": "user", "text": "blorp"}, {"event": "action", "name": "action_fallback"},
        {"event": "action", "name": "action_listen"}])
    dispatcher, _ = await run(ActionFallback(**services), after_a_miss)
    assert responses(dispatcher) == ["utter_offer_human"]


async def test_out_of_scope_first_says_what_the_bot_can_do(services):
    dispatcher, _ = await run(ActionFallback(**services), make_tracker(text="weather?", intent="out_of_scope"))
    assert responses(dispatcher) == ["utter_out_of_scope"]


async def test_an_address_that_failed_ten_times_on_other_consumers_is_locked_too(services, demo_ledger):
    maya = demo_ledger.consumer_by_phone("+14155550101")
    lucia = demo_ledger.consumer_by_phone("+13055550102")
    for n in range(10):  # one sender trying identities: never three on one consumer, ten in all
        demo_ledger.record_verification_attempt(lucia.id, False, "rest", "+19995550000", NOW - timedelta(minutes=n))
    tracker = make_tracker(sender="+19995550000", text="balance", intent="ask_balance",
                           slots={"consumer_id": str(maya.id)})
    dispatcher, events = await run(ActionStartVerification(**services), tracker)
    assert slots_of(events)["can_verify"] is False
    assert responses(dispatcher) == ["utter_verification_locked"]
    # Maya herself, from her own number, may still verify.
    dispatcher, events = await run(ActionStartVerification(**services), make_tracker(
        text="balance", intent="ask_balance", slots={"consumer_id": str(maya.id)}))
    assert slots_of(events)["can_verify"] is True


# Who asks for a person, where: the promise to reply "right here" holds only where the person may reply.
@pytest.mark.parametrize("sender, channel, expected", [
    ("+17875550104", "sms", "utter_handoff_elsewhere"),  # an agency consumer (webchat only) on SMS
    ("whatsapp:+17875550104", "whatsapp", "utter_handoff_elsewhere"),  # the same on WhatsApp
    ("+14155550101", "sms", "utter_handoff"),  # a first-party consumer on SMS
    ("+15005550000", "sms", "utter_handoff"),  # a number we do not know: nothing is barred
    ("web-visitor", "socketio", "utter_handoff"),  # web chat is allowed to every creditor here
])
async def test_a_handoff_promises_a_reply_here_only_where_a_person_may_reply(services, demo_ledger, sender,
                                                                             channel, expected):
    tracker = make_tracker(sender=sender, text="talk to a person", intent="request_human", channel=channel)
    dispatcher, _ = await run(ActionHandoff(**services), tracker)
    assert responses(dispatcher) == [expected]
    assert [h["conversation_id"] for h in demo_ledger.handoffs()] == [sender]  # queued either way
