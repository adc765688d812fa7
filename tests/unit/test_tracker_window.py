"""A long conversation kept as its latest turns: the same state, the same recent history for the policies."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.adapters.tracker_window import KEEP_EVENTS, WINDOW_AT, stored_offset, windowed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def turn(intent: str, *events: Event) -> List[Event]:
    return [UserUttered(intent.replace("_", " "), {"name": intent, "confidence": 1.0}), *events,
            ActionExecuted("action_listen")]


def long_conversation(domain: Domain, turns: int) -> DialogueStateTracker:
    """Verified early, a language chosen, then balance questions; a payment form left open at the end."""
    events: List[Event] = [ActionExecuted("action_listen")]
    events += turn("ask_balance", SlotSet("verified", True), SlotSet("active_account", "NW-1042"),
                   ActionExecuted("action_balance"), BotUttered("Your balance is $120.00."))
    events += turn("change_language", SlotSet("language", "es"), BotUttered("Claro."))
    for _ in range(turns):
        events += turn("ask_balance", ActionExecuted("action_balance"), BotUttered("Su saldo es US$120.00."))
    events += turn("make_payment", ActionExecuted("payment_form"), ActiveLoop("payment_form"),
                   SlotSet("requested_slot", "payment_amount"), BotUttered("¿Cuánto?"))
    return DialogueStateTracker.from_events("window-1", events, domain.slots)


def test_a_short_conversation_is_kept_whole(domain):
    assert windowed(long_conversation(domain, 5)) is None


def test_the_window_has_the_same_state_and_the_same_recent_history(domain):
    full = long_conversation(domain, 80)
    window = windowed(full)
    assert len(full.events) >= WINDOW_AT and len(window.events) <= KEEP_EVENTS + len(domain.slots) + 2
    assert window.current_slot_values() == full.current_slot_values()
    assert window.active_loop_name == full.active_loop_name == "payment_form"
    assert window.latest_message.intent == full.latest_message.intent
    # What the policies featurize: TED and memoization look back 5 turns, rules fewer.
    assert window.past_states(domain)[-6:] == full.past_states(domain)[-6:]


def test_the_window_knows_how_many_stored_events_it_leaves_out(domain):
    full = long_conversation(domain, 80)
    window = windowed(full)
    assert len(window.events) + stored_offset(window) == len(full.events)
    for _ in range(80):  # it grows again, and is cut back again: the count stays right
        window.update(UserUttered("hola", {"name": "greet", "confidence": 1.0}))
        window.update(ActionExecuted("action_listen"))
        full.update(UserUttered("hola", {"name": "greet", "confidence": 1.0}))
        full.update(ActionExecuted("action_listen"))
    again = windowed(window)
    assert again is not None
    assert len(again.events) + stored_offset(again) == len(full.events)
    assert again.current_slot_values() == full.current_slot_values()
