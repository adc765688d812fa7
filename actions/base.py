"""Shared plumbing for the assistant's actions: services from bot.bootstrap, tracker reading."""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import bootstrap
from bot.domain.channels import policy_channel
from bot.domain.language import DETECTED_LANGUAGE, detect_language, requested_language
from bot.i18n import locale_for
from bot.replies import Reply


class AssistantAction(Action, ABC):
    """Base of every action: services come in through the constructor, defaulting to bootstrap's.

    For a consumer whose language nobody gave (see :func:`detected_language_switch`), an action
    run after a message that clearly reads as the other language switches the conversation to it,
    its own replies included.

    `domain` is empty: the action endpoint enables Rasa's selective domain and no action asks for it
    (an action that needs it says `send_domain: true` under its name in domain.yml).
    """

    follows_detected_language = True

    def __init__(self, ledger=None, sealer=None, link_signer=None, clock=None, payments=None,
                 disputes=None) -> None:
        self._ledger = ledger
        self._payments = payments
        self._disputes = disputes
        self._sealer = sealer
        self._link_signer = link_signer
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    @abstractmethod
    def name(self) -> Text:
        ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """The ledger is blocking I/O: answer in a worker thread, never on the event loop."""
        already_said = len(dispatcher.messages)
        events = await asyncio.to_thread(self.respond, dispatcher, tracker, domain)
        switch = detected_language_switch(tracker) if self.follows_detected_language else None
        if switch and not any(_sets_language(event) for event in events):
            for message in dispatcher.messages[already_said:]:
                message.setdefault("language", switch)  # rendered before the SlotSet applies
            events = [SlotSet("language", switch), *events]
        return events

    @abstractmethod
    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """What the action says (through `dispatcher`) and the events it returns."""

    @property
    def ledger(self):
        if self._ledger is None:
            self._ledger = bootstrap.ledger()
        return self._ledger

    @property
    def payments(self):
        if self._payments is None:
            self._payments = bootstrap.payments()
        return self._payments

    @property
    def disputes(self):
        if self._disputes is None:
            self._disputes = bootstrap.disputes()
        return self._disputes

    @property
    def sealer(self):
        if self._sealer is None:
            self._sealer = bootstrap.sealer()
        return self._sealer

    @property
    def link_signer(self):
        if self._link_signer is None:
            self._link_signer = bootstrap.link_signer()
        return self._link_signer

    def now(self) -> datetime:
        return self._clock()


def say(dispatcher: CollectingDispatcher, replies: Iterable[Reply]) -> None:
    for reply in replies:
        dispatcher.utter_message(response=reply.response, **reply.arguments)


def locale_of(tracker: Tracker) -> str:
    return locale_for(tracker.get_slot("language"))


def input_channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def channel_of(tracker: Tracker) -> str:
    """The policy channel (sms, whatsapp, webchat) of the conversation."""
    return policy_channel(input_channel(tracker))


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_metadata(tracker: Tracker) -> Dict[str, Any]:
    return tracker.latest_message.get("metadata") or tracker.get_slot("session_started_metadata") or {}


def consumer_id(tracker: Tracker) -> Optional[int]:
    value = tracker.get_slot("consumer_id")
    return int(value) if value not in (None, "") else None


def turn_key(tracker: Tracker) -> str:
    """One key per consumer message: what a retried action finds already done."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            return f"{tracker.sender_id}:{event.get('message_id') or parse.get('message_id') or event.get('timestamp')}"
    return f"{tracker.sender_id}:none"


def detected_language_switch(tracker: Tracker) -> Optional[str]:
    """The language the conversation should switch to after the latest message, if any.

    An explicit request (intent change_language: "English please") always wins, even when a form
    took the message. Otherwise, only for a consumer whose language is nobody's word (no placement,
    i.e. not identified; no ``?lang=`` or link; no request earlier in this session): the language
    the message clearly reads as, when it is not the conversation's.
    """
    current = tracker.get_slot("language")
    text = tracker.latest_message.get("text") or ""
    if latest_intent(tracker) == "change_language":
        wanted = requested_language(text)
        return wanted if wanted and wanted != current else None
    if tracker.get_slot("consumer_id") or (tracker.get_slot("session_started_metadata") or {}).get("language"):
        return None
    if _asked_for_a_language(tracker):
        return None
    detected = detect_language(text) or (tracker.latest_message.get("metadata") or {}).get(DETECTED_LANGUAGE)
    return detected if detected and detected != current else None


def _asked_for_a_language(tracker: Tracker) -> bool:
    """Whether the consumer asked for a language earlier in this session."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "action" and event.get("name") == "action_change_language":
            return True
        if event.get("event") == "user" and (
                (event.get("parse_data") or {}).get("intent") or {}).get("name") == "change_language":
            return True
    return False


def _sets_language(event: Dict[Text, Any]) -> bool:
    return event.get("event") == "slot" and event.get("name") == "language"


def previous_action(tracker: Tracker) -> Optional[Text]:
    """The last action the bot ran before the consumer's latest message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                continue
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None
