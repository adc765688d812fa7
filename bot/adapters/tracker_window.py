"""A long conversation handed to Rasa as its latest turns, opened by the state they started from.

Rasa works over the whole tracker on every message: each policy turns every earlier turn into a
state (RulePolicy alone was a third of the Rasa process's CPU at turn 400), and each action call
carries every event. A message at turn 200 cost several times one at turn 10.

The tracker store keeps, between messages, a *window* of a long conversation instead: its last
`KEEP_EVENTS` or so events, starting at a turn boundary, after an opening of `SlotSet` events (and the
active form) that restores the state at that boundary. Policies look back a few turns at most
(max_history 4-5; rules are short), so they see the same recent states and predict the same actions.

Actions see the window too: a handoff's transcript of a conversation longer than that starts at
the window (agents read the whole conversation in the console). The database keeps every event. The opening's first event records how many stored events the window
leaves out (`stored_offset`), so saving the window writes exactly the new events, whichever copy of
the tracker comes back.
"""
from __future__ import annotations

from typing import List, Optional

from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

KEEP_EVENTS = 120  # about 20 turns
WINDOW_AT = 2 * KEEP_EVENTS  # a tracker is cut back once it is this long: the cost is paid once per 20 turns
STORED_BEFORE = "stored_events_before"  # metadata of the opening's first event


def stored_offset(tracker: DialogueStateTracker) -> int:
    """How many more events the database holds before the tracker's own than the tracker's opening has."""
    first = tracker.events[0] if tracker.events else None
    return int((getattr(first, "metadata", None) or {}).get(STORED_BEFORE, 0))


def windowed(tracker: DialogueStateTracker) -> Optional[DialogueStateTracker]:
    """The tracker's latest turns after an opening that restores their state; None while it is short."""
    events = list(tracker.events)
    if len(events) < WINDOW_AT:
        return None
    cut = next((index for index in range(len(events) - KEEP_EVENTS, len(events)) if _listens(events[index])), None)
    if cut is None:
        return None
    opening = _opening(DialogueStateTracker.from_events(tracker.sender_id, events[:cut], tracker.slots.values()))
    opening[0].metadata = {STORED_BEFORE: stored_offset(tracker) + cut - len(opening)}
    return DialogueStateTracker.from_events(tracker.sender_id, opening + events[cut:], tracker.slots.values())


def _listens(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME


def _opening(before: DialogueStateTracker) -> List[Event]:
    """Events that bring a new tracker to `before`'s state: the form's question first, then every other slot."""
    opening: List[Event] = [SlotSet(REQUESTED_SLOT, before.get_slot(REQUESTED_SLOT))]
    opening += [SlotSet(name, slot.value) for name, slot in before.slots.items()
                if name != REQUESTED_SLOT and slot.value != slot.initial_value]
    if before.active_loop_name:
        opening.append(ActiveLoop(before.active_loop_name))
    return opening
