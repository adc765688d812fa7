"""Consent (opt out / opt in), handoff to a person, fallback, and language switching."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, channel_of, input_channel, latest_intent, locale_of, previous_action
from actions.verification import VerificationAction
from bot import bootstrap
from bot.domain.language import requested_language
from bot.i18n import format_moment_in_zone
from bot.services.identification import accounts_on_channel
from bot.transcripts import transcript

LANGUAGES = ("en", "es")


class ConsentAction(AssistantAction):
    """Records the consumer's choice for this address on this channel, append-only."""

    granted: bool = False
    confirmation: Text = ""

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        self.ledger.record_consent(
            channel_of(tracker), tracker.sender_id, self.granted, tracker.latest_message.get("text") or "",
            self.now(),
        )
        dispatcher.utter_message(response=self.confirmation)
        return []


class ActionOptOut(ConsentAction):
    granted = False
    confirmation = "utter_opted_out"

    def name(self) -> Text:
        return "action_opt_out"


class ActionOptIn(ConsentAction):
    granted = True
    confirmation = "utter_opted_in"

    def name(self) -> Text:
        return "action_opt_in"


class ActionHandoff(VerificationAction):
    """Queues the conversation for a person, with the reason and a redacted transcript.

    Outside agent hours (AGENT_HOURS) the consumer is told when to expect the reply. On a channel
    none of the consumer's creditors allow, the person may not answer there (the outbound service
    refuses), so the consumer is pointed to the web chat instead of told to wait.
    """

    def __init__(self, *args: Any, agent_hours: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._agent_hours = agent_hours

    def name(self) -> Text:
        return "action_handoff"

    @property
    def agent_hours(self):
        return self._agent_hours if self._agent_hours is not None else bootstrap.agent_hours()

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        self.ledger.open_handoff(
            tracker.sender_id, channel_of(tracker), tracker.get_slot("active_account"),
            latest_intent(tracker) or "request_human", transcript(tracker.events), self.now(),
        )
        consumer = self._consumer_id(tracker)
        if consumer is not None and not accounts_on_channel(self.ledger, consumer, input_channel(tracker)):
            dispatcher.utter_message(response="utter_handoff_elsewhere")
            return []
        opening = self.agent_hours.next_opening(self.now()) if self.agent_hours else None
        if opening is None:
            dispatcher.utter_message(response="utter_handoff")
        else:
            reply_by = format_moment_in_zone(opening, locale_of(tracker), opening.tzinfo)
            dispatcher.utter_message(response="utter_handoff_after_hours", reply_by=reply_by)
        return []


class ActionFallback(AssistantAction):
    """A message not understood, or outside what the bot does. A second miss in a row: offer a person."""

    def name(self) -> Text:
        return "action_fallback"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if previous_action(tracker) == self.name():
            dispatcher.utter_message(response="utter_offer_human")
        elif latest_intent(tracker) == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            dispatcher.utter_message(response="utter_rephrase")
        return []


class ActionChangeLanguage(AssistantAction):
    def name(self) -> Text:
        return "action_change_language"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        language = _requested_language(tracker) or _other_language(tracker.get_slot("language"))
        # The reply renders in the new language, so it names it explicitly.
        dispatcher.utter_message(response="utter_language_changed", language=language)
        return [SlotSet("language", language)]


def _requested_language(tracker: Tracker) -> Optional[Text]:
    for value in tracker.get_latest_entity_values("language"):
        if value in LANGUAGES:
            return value
    return requested_language(tracker.latest_message.get("text") or "")


def _other_language(current: Optional[Text]) -> Text:
    return "en" if current == "es" else "es"
