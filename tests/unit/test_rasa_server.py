"""Rasa started through bot.rasa_server: action server replies are checked as strictly, without the rework."""
from __future__ import annotations

import jsonschema
import pytest
import rasa.shared.utils.common
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from bot import rasa_server

VALID = {"events": [{"event": "slot", "name": "language", "value": "es"}],
         "responses": [{"response": "utter_greet"}]}


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    rasa_server.install()
    return RemoteAction("action_balance", None)


def test_a_valid_reply_passes_without_rechecking_the_schema(installed, monkeypatch):
    rasa_server.action_result_validator()  # built, and its schema checked, once per process
    calls = []
    monkeypatch.setattr(jsonschema.validators.Draft202012Validator, "check_schema",
                        classmethod(lambda cls, schema: calls.append(schema)))
    assert installed._validate_action_result(VALID) is True
    assert installed._validate_action_result({"events": [], "responses": []}) is True
    assert calls == []


@pytest.mark.parametrize("reply", [
    {"events": [{"event": "slot", "value": "es"}]},  # a slot event without the slot's name
    {"events": "not a list"},
    {"responses": [42]},
])
def test_an_invalid_reply_fails_with_rasas_own_error(installed, reply):
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        installed._validate_action_result(reply)


def test_stored_events_come_back_as_the_same_events(installed, monkeypatch):
    events = [ActionExecuted("action_listen"), UserUttered("hola", {"name": "greet", "confidence": 1.0}),
              SlotSet("language", "es")]
    assert [Event.from_parameters(event.as_dict()) for event in events] == events
    walks = []
    monkeypatch.setattr(rasa.shared.utils.common, "all_subclasses", lambda cls: walks.append(cls) or [])
    assert Event.resolve_by_type("slot") is SlotSet  # remembered: no walk over Event's subclasses
    assert walks == []


def test_unknown_event_types_behave_as_in_rasa(installed):
    with pytest.raises(ValueError, match="Unknown event name 'nope'"):
        Event.resolve_by_type("nope")
    assert Event.resolve_by_type("nope", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
