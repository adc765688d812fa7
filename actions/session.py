"""A new session: forget verification, identify the sender, greet with the opt-out line."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, input_channel
from bot import bootstrap
from bot.domain.language import DETECTED_LANGUAGE
from bot.services.identification import identify

KEYWORDS_ANSWERED_ALONE = {"opt_out", "opt_in", "help"}


class ActionSessionStart(AssistantAction):
    follows_detected_language = False  # it sets the language itself

    def name(self) -> Text:
        return "action_session_start"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        metadata = tracker.get_slot("session_started_metadata") or {}
        events: List[EventType] = [SessionStarted()]
        # Slots do not carry over (domain session_config), so verification starts afresh.
        found = identify(self.ledger, self.link_signer, tracker.sender_id, input_channel(tracker), metadata)
        language = metadata.get("language")
        if found is not None:
            events += [
                SlotSet("consumer_id", str(found.consumer.id)),
                SlotSet("identified_by", found.method),
                SlotSet("active_account", found.account_ref),
            ]
            language = language or found.consumer.language
        else:
            # Nobody told us this consumer's language: the words of their first message may.
            language = language or metadata.get(DETECTED_LANGUAGE)
        language = language if language in bootstrap.languages() else "en"
        events += [SlotSet("language", language), SlotSet("session_started_metadata", metadata)]
        # Rendered before the slot events apply, so the language travels with the message. A session
        # opened by STOP, START or HELP gets that keyword's one reply alone: it carries the opt-out line.
        if metadata.get("keyword") not in KEYWORDS_ANSWERED_ALONE:
            dispatcher.utter_message(response="utter_session_greeting", language=language)
        events.append(ActionExecuted("action_listen"))
        return events
