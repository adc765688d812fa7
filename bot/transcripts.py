"""Transcripts for agents, built from Rasa tracker events without identity answers or card numbers."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List

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
