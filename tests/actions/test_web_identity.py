"""The web chat identity form: account reference -> one-time code -> on to date of birth and ZIP."""
from __future__ import annotations

from typing import List, Tuple

import pytest

from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionSessionStart
from actions.web_identity import ActionCodeConfirmed, ValidateWebIdentityForm, typed_code, typed_route
from bot.services.one_time_codes import CodeCheck, CodeRequest
from tests.actions.conftest import make_tracker, responses


class FakeCodes:
    """The one-time code port: records requests, answers checks from a script."""

    def __init__(self, request_outcome: str = "sent", check: CodeCheck = CodeCheck("wrong", attempts_left=4)):
        self.requested: List[Tuple[str, str, str, str]] = []
        self.checked: List[Tuple[str, str]] = []
        self.request_outcome = request_outcome
        self.check_result = check

    async def request(self, conversation_id, typed_ref, language=None, route="phone"):
        self.requested.append((conversation_id, typed_ref, language, route))
        hint = {"phone": "01", "email": "m•••@e•••"}[route] if self.request_outcome == "sent" else ""
        return CodeRequest(self.request_outcome, hint, route)

    async def check(self, conversation_id, typed):
        self.checked.append((conversation_id, typed))
        return self.check_result


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def validate(services, codes, text, requested=None, intent="inform", reference=None):
    tracker = make_tracker(sender="web-1", channel="socketio", text=text, intent=intent,
                           slots={"requested_slot": requested, "account_ref_answer": reference})
    dispatcher = CollectingDispatcher()
    events = await ValidateWebIdentityForm(**services, codes=codes).run(dispatcher, tracker, {})
    return dispatcher, events


async def test_a_reference_in_the_opening_message_is_kept_and_nothing_is_sent_yet(services):
    codes = FakeCodes()
    dispatcher, events = await validate(services, codes, "my account is bw-10001 how much do i owe",
                                        intent="ask_balance")
    assert codes.requested == [] and dispatcher.messages == []  # the form asks: text message or email?
    assert slots_of(events) == {"account_ref_answer": "BW-10001"}


# The visitor's answer to "text message or email?" -> where the code goes and what they are told.
@pytest.mark.parametrize("answer, route, said, hint", [
    ("text message", "phone", "utter_code_sent", ("phone_hint", "01")),  # the first button's payload
    ("email", "email", "utter_code_emailed", ("email_hint", "m•••@e•••")),  # the second button's payload
    ("by text please", "phone", "utter_code_sent", ("phone_hint", "01")),
    ("Correo electrónico", "email", "utter_code_emailed", ("email_hint", "m•••@e•••")),  # the Spanish title
    ("mensaje de texto", "phone", "utter_code_sent", ("phone_hint", "01")),
])
async def test_the_code_goes_where_the_visitor_chose(services, answer, route, said, hint):
    codes = FakeCodes()
    dispatcher, events = await validate(services, codes, answer, requested="code_route_answer", reference="BW-10001")
    assert codes.requested == [("web-1", "BW-10001", "en", route)]
    assert responses(dispatcher) == [said] and dispatcher.messages[0][hint[0]] == hint[1]
    assert slots_of(events) == {"code_route_answer": route}


async def test_an_answer_that_is_neither_is_asked_again(services):
    codes = FakeCodes()
    dispatcher, events = await validate(services, codes, "whatever", requested="code_route_answer",
                                        reference="BW-10001")
    assert codes.requested == [] and responses(dispatcher) == ["utter_code_route_not_understood"]
    assert slots_of(events) == {"code_route_answer": None}


async def test_an_opening_message_without_a_reference_lets_the_form_ask(services):
    codes = FakeCodes()
    dispatcher, events = await validate(services, codes, "hi", intent="greet")
    assert events == [] and dispatcher.messages == [] and codes.requested == []


async def test_an_answer_without_a_reference_is_asked_again(services):
    dispatcher, events = await validate(services, FakeCodes(), "i dont know", requested="account_ref_answer")
    assert responses(dispatcher) == ["utter_account_ref_not_understood"]
    assert slots_of(events) == {"account_ref_answer": None}


async def test_too_many_code_requests_end_the_form_and_offer_a_person(services):
    dispatcher, events = await validate(services, FakeCodes("rate_limited"), "email",
                                        requested="code_route_answer", reference="BW-10001")
    assert responses(dispatcher) == ["utter_code_rate_limited"]
    assert slots_of(events) == {"account_ref_answer": None, "code_route_answer": None, "requested_slot": None}


async def test_the_right_code_identifies_the_consumer(services):
    codes = FakeCodes(check=CodeCheck("confirmed", consumer_id=1, account_ref="BW-10001"))
    dispatcher, events = await validate(services, codes, "482 913", requested="code_answer")
    assert codes.checked == [("web-1", "482913")]
    assert dispatcher.messages == []
    assert slots_of(events) == {"code_answer": "confirmed", "consumer_id": "1", "identified_by": "code",
                                "active_account": "BW-10001"}


async def test_a_wrong_code_says_how_many_tries_are_left(services):
    dispatcher, events = await validate(services, FakeCodes(), "111111", requested="code_answer")
    assert responses(dispatcher) == ["utter_code_wrong"] and dispatcher.messages[0]["attempts_left"] == "4"
    assert slots_of(events) == {"code_answer": None}


async def test_an_expired_code_starts_over_with_the_reference(services):
    codes = FakeCodes(check=CodeCheck("expired"))
    dispatcher, events = await validate(services, codes, "482913", requested="code_answer")
    assert responses(dispatcher) == ["utter_code_expired"]
    assert slots_of(events) == {"account_ref_answer": None, "code_route_answer": None, "code_answer": None}


async def test_typing_the_reference_again_asks_again_where_to_send_a_new_code(services):
    codes = FakeCodes()
    dispatcher, events = await validate(services, codes, "BW-10001", requested="code_answer", reference="BW-10001")
    assert codes.requested == [] and dispatcher.messages == []
    assert slots_of(events) == {"account_ref_answer": "BW-10001", "code_route_answer": None, "code_answer": None}


async def test_a_request_for_a_person_steps_out_of_the_form(services):
    dispatcher, events = await validate(services, FakeCodes(), "agent", requested="code_answer",
                                        intent="request_human")
    assert events == [] and dispatcher.messages == []


def test_codes_as_people_type_them():
    assert typed_code("482913") == "482913"
    assert typed_code("my code is 482 913") == "482913"
    assert typed_code("482-913") == "482913"
    assert typed_code("48291") is None
    assert typed_code("4829131") is None


async def run_confirmed(services, slots):
    tracker = make_tracker(sender="web-1", channel="socketio", slots=slots)
    dispatcher = CollectingDispatcher()
    events = await ActionCodeConfirmed(**services).run(dispatcher, tracker, {})
    return dispatcher, slots_of(events)


async def test_after_the_code_the_consumer_goes_on_to_date_of_birth_and_zip(services):
    dispatcher, slots = await run_confirmed(services, {"code_answer": "confirmed", "consumer_id": "1"})
    assert responses(dispatcher) == ["utter_code_confirmed"]
    assert slots == {"account_ref_answer": None, "code_route_answer": None, "code_answer": None, "can_verify": True}


async def test_without_a_confirmed_code_nothing_goes_on(services):
    dispatcher, slots = await run_confirmed(services, {"code_answer": None, "consumer_id": None})
    assert dispatcher.messages == [] and slots["can_verify"] is False


async def test_a_session_opened_by_stop_gets_only_the_opt_out_confirmation(services):
    tracker = make_tracker(sender="+14155550101", channel="sms",
                           slots={"session_started_metadata": {"keyword": "opt_out"}})
    dispatcher = CollectingDispatcher()
    await ActionSessionStart(**services).run(dispatcher, tracker, {})
    assert dispatcher.messages == []  # the rule's utter_opted_out is the one reply


def test_routes_as_people_answer():
    assert typed_route("text message") == typed_route("SMS") == typed_route("1") == "phone"
    assert typed_route("email") == typed_route("e-mail please") == typed_route("2") == "email"
    assert typed_route("email or text") is None  # both: ask again
    assert typed_route("yes") is None
