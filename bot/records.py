"""The communications record (Regulation F 1006.100): every message in and out, as Rasa streams them.

Rasa hands each tracker event to its event broker; `LedgerEventBroker` writes the messages to the
ledger's append-only communications table from a worker thread, in order, off the event loop.
Answers to identity questions are withheld and card numbers redacted before anything is written.
"""
from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.domain.channels import policy_channel
from bot.domain.communications import Communication
from bot.recently_used import RecentlyUsed
from bot.transcripts import IDENTITY_SLOTS, WITHHELD

logger = logging.getLogger(__name__)
MAX_TRACKED_CONVERSATIONS = 10_000


@dataclass
class _Conversation:
    channel: str = "webchat"
    requested_slot: Optional[str] = None
    account_ref: Optional[str] = None


class ConversationRecorder:
    """Turns tracker events into communication records; remembers just enough per conversation."""

    def __init__(self, ledger) -> None:
        self._ledger = ledger
        self._conversations: "RecentlyUsed[str, _Conversation]" = RecentlyUsed(MAX_TRACKED_CONVERSATIONS)

    def record(self, events: Sequence[Dict[Text, Any]]) -> List[bool]:
        """Write the events' messages in one transaction, in order; if that fails, one by one.

        Each event is read once, so what a conversation remembers (an identity question asked) is not
        replayed. Returns, per event, whether it is in the record now (an event that is no message is).
        """
        communications = [self._communication(event) for event in events]
        try:
            self._ledger.log_communications([c for c in communications if c is not None])
            return [True] * len(events)
        except Exception:
            logger.exception("could not write %d events to the communications record at once; writing them one by one",
                             len(events))
        return [communication is None or self._write_one(communication) for communication in communications]

    def _write_one(self, communication: Communication) -> bool:
        try:
            self._ledger.log_communications([communication])
        except Exception:
            logger.exception("could not write the communications record for %s", communication.conversation_id)
            return False
        return True

    def _communication(self, event: Dict[Text, Any]) -> Optional[Communication]:
        sender = event.get("sender_id") or ""
        conversation = self._conversation(sender)
        kind = event.get("event")
        if kind in ("session_started", "restart"):
            self._conversations.keep(sender, _Conversation(channel=conversation.channel))
        elif kind == "slot" and event.get("name") == "requested_slot":
            conversation.requested_slot = event.get("value")
        elif kind == "slot" and event.get("name") == "active_account":
            conversation.account_ref = event.get("value")
        elif kind == "user":
            conversation.channel = policy_channel(event.get("input_channel"))
            identity_answer = conversation.requested_slot in IDENTITY_SLOTS
            return _message("in", sender, conversation, WITHHELD if identity_answer else event.get("text"), event)
        elif kind == "bot" and event.get("text"):
            # An agent's reply (bot.adapters.rasa_conversations) is recorded as the agent's words.
            from_agent = bool((event.get("metadata") or {}).get("agent"))
            return _message("out", sender, conversation, event["text"], event, "agent_message" if from_agent else "message")
        return None

    def _conversation(self, sender: str) -> _Conversation:
        conversation = self._conversations.take(sender) or _Conversation()
        self._conversations.keep(sender, conversation)
        return conversation


def _message(direction: str, sender: str, conversation: _Conversation, body: Optional[str],
             event: Dict[Text, Any], kind: str = "message") -> Communication:
    at = datetime.fromtimestamp(event.get("timestamp") or datetime.now().timestamp(), timezone.utc)
    return Communication(direction, conversation.channel, sender, sender, conversation.account_ref, kind, body or "", at)


class LedgerEventBroker(EventBroker):
    """Rasa event broker (endpoints.yml `event_broker: type: bot.records.LedgerEventBroker`).

    Events wait in a queue for the writer thread, which writes everything waiting in one transaction:
    one message per transaction took the ledger's write lock two or three times a message, and with
    actions writing the same SQLite file, 32 consumers at once got a quarter fewer answers a second.
    """

    def __init__(self, recorder: ConversationRecorder) -> None:
        self._recorder = recorder
        self._waiting: "deque[Dict[Text, Any]]" = deque()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")

    @classmethod
    async def from_endpoint_config(cls, broker_config: Optional[EndpointConfig], event_loop=None) -> "LedgerEventBroker":
        from bot import bootstrap

        return cls(ConversationRecorder(bootstrap.ledger()))

    def publish(self, event: Dict[Text, Any]) -> None:
        self._waiting.append(dict(event))
        self._writer.submit(self._record_waiting)

    def _record_waiting(self) -> None:
        """Every event waiting, in order; a call that finds none left (an earlier call took them) does nothing."""
        events: List[Dict[Text, Any]] = []
        while self._waiting:
            events.append(self._waiting.popleft())
        if not events:
            return
        try:
            self._recorder.record(events)
        except Exception:  # the record must never fail silently, nor take the conversation down
            logger.exception("could not read %d events for the communications record", len(events))

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
