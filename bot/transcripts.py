"""Transcripts for agents, built from Rasa tracker events without identity answers or card numbers."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from bot.domain.cards import redact_card_numbers

IDENTITY_SLOTS = {"dob_answer", "zip_answer"}
WITHHELD = "[identity answer withheld]"


def transcript(events: Iterable[Dict[str, Any]], limit: int = 100) -> List[Dict[str, str]]:
    """User and bot messages in order; user answers to identity questions are withheld."""
    lines: List[Dict[str, str]] = []
    requested = None
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind in ("user", "bot") and event.get("text"):
            text = event["text"]
            if kind == "user" and requested in IDENTITY_SLOTS:
                text = WITHHELD
            lines.append({"from": "consumer" if kind == "user" else "bot", "text": redact_card_numbers(text),
                          "at": str(event.get("timestamp", ""))})
    return lines[-limit:]


REDACTED = "[redacted]"
SEALED_PREFIX = "gAAAAA"  # Fernet tokens (bot.security.Sealer): identity answers sealed by the actions


def identity_answers(events: List[Dict[str, Any]], requested: Optional[str] = None) -> set:
    """Indexes of user events that answered an identity question.

    An answer is a message sent while the form asked for one (requested_slot; `requested` is its value
    before the first of `events`), or one after which an identity slot was filled (a date of birth
    volunteered out of turn).
    """
    answers, last_user = set(), None
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "slot" and event.get("name") in IDENTITY_SLOTS and event.get("value") and last_user is not None:
            answers.add(last_user)
        elif kind == "user":
            last_user = index
            if requested in IDENTITY_SLOTS:
                answers.add(index)
    return answers


def redact_events(events: List[Dict[str, Any]], requested: Optional[str] = None) -> List[Dict[str, Any]]:
    """Tracker events as stored and streamed: identity answers and card numbers removed.

    `events` may be the new events of a turn: `requested` is then the form's requested_slot before them.
    """
    answers = identity_answers(events, requested)
    return [_redact_event(event, index in answers) for index, event in enumerate(events)]


def _redact_event(event: Dict[str, Any], identity_answer: bool) -> Dict[str, Any]:
    event = _scrub(event)
    if identity_answer:
        event["text"] = REDACTED
        parse_data = dict(event.get("parse_data") or {})
        if parse_data:
            parse_data["text"] = REDACTED
            parse_data["entities"] = [{**entity, "value": REDACTED} for entity in parse_data.get("entities") or []]
            event["parse_data"] = parse_data
    if event.get("event") == "slot" and event.get("name") in IDENTITY_SLOTS:
        value = event.get("value")
        if isinstance(value, str) and not value.startswith(SEALED_PREFIX):
            event["value"] = REDACTED
    return event


def _scrub(value: Any) -> Any:
    """A deep copy with card numbers redacted from every string."""
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value
