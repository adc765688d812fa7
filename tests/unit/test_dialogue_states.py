"""States remembered between predictions are the states Rasa works out from scratch, event by event."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List

import pytest
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.shared.core.constants import RULE_ONLY_LOOPS, RULE_ONLY_SLOTS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, DefinePrevUserUtteredFeaturization, Event,
                                     FollowupAction, SessionStarted, SlotSet, UserUttered, UserUtteranceReverted)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from bot.dialogue_states import RememberedStates, _rasas_states_for_tracker_history

ROOT = Path(__file__).resolve().parents[2]
RULE_ONLY = {RULE_ONLY_SLOTS: ["requested_slot", "verified"], RULE_ONLY_LOOPS: ["payment_form"]}
KINDS = [  # what RulePolicy asks for, what TED asks for, and with unset slots left out
    dict(),
    dict(ignore_rule_only_turns=True, rule_only_data=RULE_ONLY),
    dict(omit_unset_slots=True),
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def conversations_of_the_assistant(domain: Domain) -> List[DialogueStateTracker]:
    """Every rule and every conversation test, as trackers."""
    importer = TrainingDataImporter.load_from_config(str(ROOT / "config.yml"), str(ROOT / "domain.yml"),
                                                     [str(ROOT / "data"), str(ROOT / "tests" / "stories")])
    return TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0,
                                 use_story_concatenation=False).generate()


def assert_as_rasa_event_by_event(domain: Domain, sender_id: str, events: Iterable[Event],
                                  is_rule_tracker: bool = False) -> int:
    """Grows a tracker one event at a time, as a live conversation does, checking every kind of states."""
    remembered = RememberedStates()
    tracker = DialogueStateTracker(sender_id, domain.slots, is_rule_tracker=is_rule_tracker)
    checked = 0
    for event in events:
        tracker.update(event)
        for kind in KINDS:
            assert remembered.states(domain, tracker, **kind) == _rasas_states_for_tracker_history(
                domain, tracker, **kind), (sender_id, len(tracker.events), kind)
            checked += 1
    return checked


def test_every_rule_and_conversation_test_grown_event_by_event(domain):
    trackers = conversations_of_the_assistant(domain)
    assert len(trackers) > 100 and any(tracker.active_loop_name for tracker in trackers)
    checked = sum(assert_as_rasa_event_by_event(domain, tracker.sender_id, tracker.events, tracker.is_rule_tracker)
                  for tracker in trackers)
    assert checked > 3000


def user(intent: str, text: str = None) -> UserUttered:
    return UserUttered(text or intent.replace("_", " "), {"name": intent, "confidence": 1.0})


def live_conversation() -> List[Event]:
    """What a server logs and a training tracker never has: hidden rule turns, featurization chosen after
    the message, an undone message, a follow-up action, a form folding its turns together, a new session."""
    return [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        user("ask_balance"), DefinePrevUserUtteredFeaturization(False),
        ActionExecuted("action_start_verification", hide_rule_turn=True), SlotSet("can_verify", True),
        ActionExecuted("verification_form", hide_rule_turn=True), ActiveLoop("verification_form"),
        SlotSet("requested_slot", "dob_answer"), BotUttered("What is your date of birth?"),
        ActionExecuted("action_listen", hide_rule_turn=True),
        user("inform", "3/4/1985"), DefinePrevUserUtteredFeaturization(False),
        ActionExecuted("verification_form"), SlotSet("requested_slot", "zip_answer"),
        ActionExecuted("action_listen"),
        user("inform", "94110"), DefinePrevUserUtteredFeaturization(True),
        ActionExecuted("verification_form"), SlotSet("verified", True), SlotSet("requested_slot", None),
        ActiveLoop(None), ActionExecuted("action_balance"), BotUttered("You owe $120.00."),
        ActionExecuted("action_listen"),
        user("greet", "what"), UserUtteranceReverted(), ActionExecuted("action_listen"),
        user("make_payment"), DefinePrevUserUtteredFeaturization(False),
        ActionExecuted("payment_form"), ActiveLoop("payment_form"), SlotSet("requested_slot", "payment_amount"),
        ActionExecuted("action_listen"),
        user("inform", "50"), ActionExecuted("payment_form"), SlotSet("payment_amount", 5000),
        ActionExecuted("action_listen"),
        user("ask_creditor"), ActionExecuted("action_creditor"), FollowupAction("payment_form"),
        ActionExecuted("payment_form"), ActiveLoop(None), ActionExecuted("action_listen"),
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        user("ask_balance"), ActionExecuted("action_balance"), ActionExecuted("action_listen"),
    ]


def test_a_live_conversation_grown_event_by_event(domain):
    assert assert_as_rasa_event_by_event(domain, "live-1", live_conversation()) == len(live_conversation()) * 3


def test_states_a_caller_changed_are_not_handed_to_the_next(domain):
    remembered = RememberedStates()
    tracker = DialogueStateTracker.from_events("changed-1", live_conversation()[:27], domain.slots)
    for state in remembered.states(domain, tracker):
        state.clear()
    for state in remembered.states(domain, tracker, ignore_rule_only_turns=True, rule_only_data=RULE_ONLY):
        for sub_state in state.values():
            sub_state.clear()
    tracker.update(user("ask_creditor"))
    for kind in KINDS:
        assert remembered.states(domain, tracker, **kind) == _rasas_states_for_tracker_history(domain, tracker, **kind)


def test_a_tracker_that_does_not_go_on_from_the_events_seen_is_worked_out_from_its_start(domain):
    # Another server's copy of the conversation, or its latest turns as a window: as long or longer,
    # other events.
    remembered = RememberedStates()
    events = live_conversation()
    seen = DialogueStateTracker.from_events("other-1", events[:20], domain.slots)
    remembered.states(domain, seen)
    other = [user("ask_creditor")] + events[4:30]
    assert len(other) > 20
    tracker = DialogueStateTracker.from_events("other-1", other, domain.slots)
    assert remembered.states(domain, tracker) == _rasas_states_for_tracker_history(domain, tracker)


@pytest.mark.parametrize("use_text", [True, False])
def test_the_featurizer_makes_the_same_prediction_states(domain, monkeypatch, use_text):
    # The featurizer edits the states it is given (the last message: text or intent, and no text where
    # there is an intent), so what it made of one tracker must not leak into the next one's states.
    featurizer = MaxHistoryTrackerFeaturizer(max_history=5)
    events = live_conversation()
    trackers = [DialogueStateTracker.from_events("featurized-1", events[:end], domain.slots)
                for end in range(1, len(events) + 1)]
    rasas = [featurizer.prediction_states([tracker], domain, use_text, ignore_rule_only_turns=True,
                                          rule_only_data=RULE_ONLY) for tracker in trackers]
    remembered = RememberedStates()
    monkeypatch.setattr(Domain, "states_for_tracker_history",
                        lambda domain_, tracker, **kind: remembered.states(domain_, tracker, **kind))
    ours = [featurizer.prediction_states([tracker], domain, use_text, ignore_rule_only_turns=True,
                                         rule_only_data=RULE_ONLY) for tracker in trackers]
    assert ours == rasas
