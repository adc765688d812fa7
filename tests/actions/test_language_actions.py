"""The conversation's language for consumers nobody told us the language of: detected from their
words until they are identified or ask for a language, which always wins."""
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionChangeLanguage
from actions.session import ActionSessionStart
from actions.verification import ActionStartVerification
from tests.actions.conftest import make_tracker

UNKNOWN_PHONE = "+19995550123"
SPANISH_QUESTION = "quiero saber cuánto debo"


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, events


async def test_a_session_opened_by_alto_from_an_unknown_number_is_in_spanish(services):
    metadata = {"keyword": "opt_out", "detected_language": "es"}
    tracker = make_tracker(sender=UNKNOWN_PHONE, channel="sms", slots={"session_started_metadata": metadata})
    dispatcher, events = await run(ActionSessionStart(**services), tracker)
    assert slots_of(events)["language"] == "es"
    assert dispatcher.messages == []  # the keyword's own reply follows, in Spanish


async def test_a_first_spanish_message_from_an_unknown_web_visitor_starts_in_spanish(services):
    tracker = make_tracker(sender="web-1", channel="socketio",
                           slots={"session_started_metadata": {"detected_language": "es"}})
    dispatcher, events = await run(ActionSessionStart(**services), tracker)
    assert slots_of(events)["language"] == "es"
    assert dispatcher.messages[0]["language"] == "es"


async def test_the_placement_language_beats_the_words(services):
    maya = {"session_started_metadata": {"detected_language": "es"}}  # English in the placement
    _, events = await run(ActionSessionStart(**services), make_tracker(sender="+14155550101", slots=maya))
    assert slots_of(events)["language"] == "en"


async def test_a_later_clear_spanish_message_switches_an_unknown_consumer(services):
    tracker = make_tracker(sender="web-1", channel="socketio", text=SPANISH_QUESTION, intent="ask_balance",
                           slots={"session_started_metadata": {}})
    dispatcher, events = await run(ActionStartVerification(**services), tracker)
    assert events[0] == {"event": "slot", "timestamp": None, "name": "language", "value": "es"}
    assert [message["language"] for message in dispatcher.messages] == ["es"]


async def test_no_switch_for_an_identified_consumer_a_chosen_page_language_or_after_a_request(services):
    identified = make_tracker(text=SPANISH_QUESTION, intent="ask_balance",
                              slots={"consumer_id": "1", "session_started_metadata": {}})
    page_in_english = make_tracker(sender="web-1", channel="socketio", text=SPANISH_QUESTION, intent="ask_balance",
                                   slots={"session_started_metadata": {"language": "en"}})
    asked_for_english = make_tracker(
        sender="web-1", channel="socketio", text=SPANISH_QUESTION, intent="ask_balance",
        slots={"session_started_metadata": {}},
        events=[{"event": "session_started"}, {"event": "action", "name": "action_change_language"}])
    asked_inside_a_form = make_tracker(
        sender="web-1", channel="socketio", text=SPANISH_QUESTION, intent="ask_balance",
        slots={"session_started_metadata": {}},
        events=[{"event": "session_started"}, {"event": "user", "text": "English please",
                                              "parse_data": {"intent": {"name": "change_language"}}}])
    for tracker in (identified, page_in_english, asked_for_english, asked_inside_a_form):
        dispatcher, events = await run(ActionStartVerification(**services), tracker)
        assert "language" not in slots_of(events)
        assert all("language" not in message for message in dispatcher.messages)


async def test_an_explicit_request_always_wins(services):
    tracker = make_tracker(sender="web-1", channel="socketio", text="English please, no hablo bien",
                           intent="change_language", slots={"language": "es", "session_started_metadata": {}})
    dispatcher, events = await run(ActionChangeLanguage(**services), tracker)
    assert slots_of(events) == {"language": "en"}
    assert dispatcher.messages[0]["language"] == "en"


async def test_a_request_taken_by_a_form_still_switches_even_an_identified_consumer(services):
    # A form's validator (not action_change_language) runs after "English please": it switches all the same.
    tracker = make_tracker(text="English please", intent="change_language",
                           slots={"consumer_id": "1", "language": "es", "session_started_metadata": {}})
    dispatcher, events = await run(ActionStartVerification(**services), tracker)
    assert events[0] == {"event": "slot", "timestamp": None, "name": "language", "value": "en"}
    assert all(message["language"] == "en" for message in dispatcher.messages)
