"""A conversation's dialogue states, worked out once per event rather than once per prediction.

Every policy turns the whole tracker into states before it predicts (`Domain.states_for_tracker_history`,
through `tracker.past_states`): it replays every event into a new tracker and describes the tracker
before each action. A message takes three or four predictions, and RulePolicy and TED each ask for
the states at each one, so the same events were replayed a dozen times a message, and more for each
earlier turn (a fifth of the Rasa process's CPU in a 200-turn conversation).

`RememberedStates` keeps, per conversation and kind of states asked for, the states of the events
seen so far and the replay that made them. When the tracker's applied events start with exactly those
events (the same objects), only the new ones are replayed; anything else (another tracker, an undone
turn, a form that folds its turns together) is replayed from the start, as Rasa does. Callers change
the states they are given, so each gets its own copy.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot.recently_used import RecentlyUsed

REMEMBERED_CONVERSATIONS = 256  # one entry per conversation and kind of states; RulePolicy and TED ask for one kind

_rasas_states_for_tracker_history = Domain.states_for_tracker_history


class StatesSoFar:
    """The states of one conversation's applied events so far, and the replay to go on from.

    The loop is Rasa's `Domain.states_for_tracker_history`, step for step, cut where it yields the
    tracker after the last event: that last state changes with the next event, so it is made anew.
    """

    def __init__(self, domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool,
                 ignore_rule_only_turns: bool, rule_only_data: Optional[Dict[Text, Any]]) -> None:
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data
        self.events: List[Event] = []
        self.replay = tracker.init_copy()
        self.states: List[State] = []
        self.last_ml_action_sub_state: Optional[Dict[Text, Any]] = None
        self.turn_was_hidden = False

    def continued_by(self, applied: List[Event]) -> bool:
        """Whether these applied events are the ones seen so far (the same objects), and perhaps more."""
        seen = self.events
        return len(applied) >= len(seen) and all(mine is theirs for mine, theirs in zip(seen, applied))

    def extend(self, new_events: List[Event]) -> None:
        for event in new_events:
            if isinstance(event, ActionExecuted):
                state, self.last_ml_action_sub_state, self.turn_was_hidden = self._state_before_action(
                    self.replay, event.hide_rule_turn, self.last_ml_action_sub_state, self.turn_was_hidden)
                if state is not None:
                    self.states.append(state)
            self.replay.update(event)
        self.events.extend(new_events)

    def all_states(self) -> List[State]:
        """Every state, the one after the last event included, each the caller's own to change."""
        last, _, _ = self._state_before_action(self.replay, False, self.last_ml_action_sub_state,
                                               self.turn_was_hidden)
        return copied(self.states + ([last] if last is not None else []))

    def _state_before_action(self, tracker: DialogueStateTracker, hide_rule_turn: bool,
                             last_ml_action_sub_state: Optional[Dict[Text, Any]],
                             turn_was_hidden: bool) -> Tuple[Optional[State], Optional[Dict[Text, Any]], bool]:
        """One step of Rasa's loop: (the state, or None if hidden; the loop's two variables after it)."""
        domain = self.domain
        if self.ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                return None, last_ml_action_sub_state, turn_was_hidden
        state = domain.get_active_state(tracker, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = last_ml_action_sub_state
        return domain._clean_state(state), last_ml_action_sub_state, turn_was_hidden


def copied(states: List[State]) -> List[State]:
    """States and their parts copied; a part two states shared (Rasa shares some) is shared by the copies.

    A part's values are strings and tuples, so two levels are the whole of a state.
    """
    parts: Dict[int, Dict[Text, Any]] = {}

    def part(sub_state: Dict[Text, Any]) -> Dict[Text, Any]:
        copy = parts.get(id(sub_state))
        if copy is None:
            copy = parts[id(sub_state)] = dict(sub_state)
        return copy

    return [{kind: part(sub_state) for kind, sub_state in state.items()} for state in states]


class RememberedStates:
    """The states of the conversations predicted for last, by conversation and kind of states."""

    def __init__(self, size: int = REMEMBERED_CONVERSATIONS) -> None:
        self._entries: "RecentlyUsed[Tuple[Any, ...], StatesSoFar]" = RecentlyUsed(size)
        self._lock = threading.Lock()

    def states(self, domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool = False,
               ignore_rule_only_turns: bool = False,
               rule_only_data: Optional[Dict[Text, Any]] = None) -> List[State]:
        key = (tracker.sender_id, tracker.is_rule_tracker, tracker._max_event_history, omit_unset_slots,
               ignore_rule_only_turns)
        applied = tracker.applied_events()
        with self._lock:
            so_far = self._entries.take(key)
            if so_far is None or not (so_far.domain is domain and so_far.rule_only_data == rule_only_data
                                      and so_far.continued_by(applied)):
                so_far = StatesSoFar(domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
            so_far.extend(applied[len(so_far.events):])
            self._entries.keep(key, so_far)
            return so_far.all_states()


REMEMBERED = RememberedStates()


def states_for_tracker_history(domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool = False,
                               ignore_rule_only_turns: bool = False,
                               rule_only_data: Optional[Dict[Text, Any]] = None) -> List[State]:
    """Rasa's `Domain.states_for_tracker_history`, going on from the states of the events seen before.

    Only for a conversation's own tracker: training's trackers (`TrackerWithCachedStates`) keep their
    states themselves, and replaying one asks for the states again from inside the replay.
    """
    if type(tracker) is not DialogueStateTracker:
        return _rasas_states_for_tracker_history(domain, tracker, omit_unset_slots, ignore_rule_only_turns,
                                                 rule_only_data)
    return REMEMBERED.states(domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
