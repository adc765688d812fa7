"""Journeys 2-4 for a verified consumer: balance, what it is for, who it is owed to."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, consumer_id, input_channel, locale_of, say
from bot.domain.identity import parse_account_ref
from bot.services.account_answers import answer_account_question


class AccountQuestionAction(AssistantAction):
    """Answers the question its name stands for; rules only route here once `verified` is true."""

    request: Text = ""

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        named = parse_account_ref(tracker.latest_message.get("text") or "")
        answer = answer_account_question(
            self.ledger, consumer_id(tracker), input_channel(tracker),
            named or tracker.get_slot("active_account"), self.request, locale_of(tracker), self.now(),
            tracker.sender_id, disclose=False,
        )
        say(dispatcher, answer.replies)
        return [SlotSet("active_account", answer.account_ref)]


class ActionShowBalance(AccountQuestionAction):
    request = "ask_balance"

    def name(self) -> Text:
        return "action_show_balance"


class ActionShowBalanceDetails(AccountQuestionAction):
    request = "ask_balance_details"

    def name(self) -> Text:
        return "action_show_balance_details"


class ActionShowCreditor(AccountQuestionAction):
    request = "ask_creditor"

    def name(self) -> Text:
        return "action_show_creditor"
