"""Journey 1: verify with date of birth and ZIP, never saying which was wrong; lock after 3 failures."""
from __future__ import annotations

from datetime import date
from typing import Any, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import (
    AssistantAction,
    channel_of,
    consumer_id,
    input_channel,
    latest_intent,
    latest_metadata,
    locale_of,
    say,
)
from bot.domain.dates import parse_date_of_birth
from bot.domain.identity import parse_postal_code
from bot.domain.verification import LOCK_DURATION, attempts_left, locked_until
from bot.i18n import format_moment
from bot.replies import ACCOUNT_QUESTIONS
from bot.services.account_answers import answer_account_question
from bot.services.identification import accounts_on_channel, identify

# Requests that continue by their own rules once the consumer is verified (data/rules/payment.yml).
RESUMABLE = {"make_payment", "request_settlement", "request_payment_plan", "change_plan", "cancel_plan",
             "promise_to_pay", "ask_payment_status",
             # data/rules/dispute.yml
             "dispute_debt", "dispute_not_mine", "dispute_amount", "dispute_service", "claim_already_paid",
             "ask_dispute_status", "hardship", "request_extension"}
# While an identity question is open, these intents leave the form to their own rules.
ESCAPE_INTENTS = {"request_human", "opt_out", "help", "bot_challenge", "cease_communication", "goodbye",
                  "bankruptcy", "attorney_represented", "deceased"}


def sealed_answers(sealer, text: str, today: date) -> Dict[Text, Text]:
    """The identity answers found in one message, sealed for the tracker."""
    found = {}
    born = parse_date_of_birth(text, today=today)
    if born is not None:
        found["dob_answer"] = sealer.seal(born.isoformat())
        postal = parse_postal_code(text)
        if postal:
            found["zip_answer"] = sealer.seal(postal)
    return found


class VerificationAction(AssistantAction):
    """Shared checks: who the consumer is and whether they may try to verify now."""

    def _consumer_id(self, tracker: Tracker) -> Optional[int]:
        known = consumer_id(tracker)
        if known is not None:
            return known
        found = identify(self.ledger, self.link_signer, tracker.sender_id, input_channel(tracker),
                         latest_metadata(tracker))
        return found.consumer.id if found else None

    def _lock_end(self, consumer: int):
        now = self.now()
        return locked_until(self.ledger.verification_attempts_since(consumer, now - LOCK_DURATION), now)

    def _say_locked(self, dispatcher: CollectingDispatcher, tracker: Tracker, consumer: int, until) -> None:
        zone = ZoneInfo(self.ledger.consumer(consumer).timezone)
        dispatcher.utter_message(
            response="utter_verification_locked", until=format_moment(until, locale_of(tracker), tzinfo=zone)
        )


class ActionStartVerification(VerificationAction):
    """Remember what was asked, then open the verification form if this consumer may verify."""

    def name(self) -> Text:
        return "action_start_verification"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        events: List[EventType] = [
            SlotSet("pending_request", intent if intent in ACCOUNT_QUESTIONS or intent in RESUMABLE else None),
            SlotSet("dob_answer", None),
            SlotSet("zip_answer", None),
        ]
        consumer = self._consumer_id(tracker)
        if consumer is None:
            from actions.web_identity import start_web_identity  # it builds on this module

            return events + start_web_identity(dispatcher, tracker)
        events.append(SlotSet("consumer_id", str(consumer)))
        if not accounts_on_channel(self.ledger, consumer, input_channel(tracker)):
            dispatcher.utter_message(response="utter_channel_redirect")
            return events + [SlotSet("can_verify", False)]
        until = self._lock_end(consumer)
        if until is not None:
            self._say_locked(dispatcher, tracker, consumer, until)
            return events + [SlotSet("can_verify", False)]
        dispatcher.utter_message(response="utter_verification_intro")
        # "my dob is 3/4/85" as the opening message: keep what was already given.
        given = sealed_answers(self.sealer, tracker.latest_message.get("text") or "", self.now().date())
        return events + [SlotSet(slot, value) for slot, value in given.items()] + [SlotSet("can_verify", True)]


class ValidateVerificationForm(AssistantAction):
    """Reads the answers from the message itself and seals them: the tracker never holds them in clear."""

    def name(self) -> Text:
        return "validate_verification_form"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        if requested == "dob_answer":
            return self._date_of_birth(dispatcher, tracker, text)
        if requested == "zip_answer":
            return self._postal_code(dispatcher, tracker, text)
        return []

    def _date_of_birth(self, dispatcher, tracker, text: str) -> List[EventType]:
        given = sealed_answers(self.sealer, text, self.now().date())
        if "dob_answer" not in given:
            return self._not_understood(dispatcher, tracker, "dob_answer", "utter_dob_not_understood")
        return [SlotSet(slot, value) for slot, value in given.items()]  # "3/4/85 94110": both at once

    def _postal_code(self, dispatcher, tracker, text: str) -> List[EventType]:
        postal = parse_postal_code(text)
        if postal is None:
            return self._not_understood(dispatcher, tracker, "zip_answer", "utter_zip_not_understood")
        return [SlotSet("zip_answer", self.sealer.seal(postal))]

    @staticmethod
    def _not_understood(dispatcher, tracker, slot: str, response: str) -> List[EventType]:
        if latest_intent(tracker) in ESCAPE_INTENTS:
            return []  # the form steps aside and the intent's own rule answers
        dispatcher.utter_message(response=response)
        return [SlotSet(slot, None)]


class ActionVerifyIdentity(VerificationAction):
    """Checks both answers together, records the attempt, and answers what was asked on success."""

    def name(self) -> Text:
        return "action_verify_identity"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        consumer = consumer_id(tracker)
        born = self.sealer.unseal(tracker.get_slot("dob_answer"))
        postal = self.sealer.unseal(tracker.get_slot("zip_answer"))
        events: List[EventType] = [SlotSet("dob_answer", None), SlotSet("zip_answer", None)]
        if consumer is None or born is None or postal is None:
            dispatcher.utter_message(response="utter_verification_expired")
            return events + [SlotSet("can_verify", True)]
        matched = self.ledger.identity_matches(consumer, date.fromisoformat(born), postal)
        self.ledger.record_verification_attempt(consumer, matched, channel_of(tracker), tracker.sender_id,
                                                self.now())
        if matched:
            return events + self._verified(dispatcher, tracker, consumer)
        return events + self._failed(dispatcher, tracker, consumer)

    def _verified(self, dispatcher, tracker, consumer: int) -> List[EventType]:
        dispatcher.utter_message(response="utter_verified")
        pending = tracker.get_slot("pending_request")
        resume = pending if pending in RESUMABLE else "nothing"
        answer = answer_account_question(
            self.ledger, consumer, input_channel(tracker), tracker.get_slot("active_account"),
            pending, locale_of(tracker), self.now(), tracker.sender_id, only_disclose=resume != "nothing",
        )
        say(dispatcher, answer.replies)
        return [
            SlotSet("verified", True),
            SlotSet("can_verify", False),
            SlotSet("pending_request", None),
            SlotSet("resume", resume),
            SlotSet("active_account", answer.account_ref),
        ]

    def _failed(self, dispatcher, tracker, consumer: int) -> List[EventType]:
        now = self.now()
        attempts = self.ledger.verification_attempts_since(consumer, now - LOCK_DURATION)
        until = locked_until(attempts, now)
        if until is not None:
            self._say_locked(dispatcher, tracker, consumer, until)
            return [SlotSet("can_verify", False), SlotSet("resume", "nothing")]
        dispatcher.utter_message(response="utter_verification_failed", attempts_left=attempts_left(attempts, now))
        # Every outcome sets `resume` (RulePolicy requires an action to set the same slots in all its rules);
        # pending_request keeps what to resume once a later attempt succeeds.
        return [SlotSet("can_verify", True), SlotSet("resume", "nothing")]
