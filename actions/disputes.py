"""Journeys 9-13: extension, disputes, "I already paid", hardship and special circumstances.

A dispute is never argued with: every dispute intent records the dispute in the consumer's own
words, holds the disputed amount and queues a person, whatever the creditor.
"""
from __future__ import annotations

from abc import ABC
from datetime import date
from typing import Dict, List, Optional, Text, Tuple

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
    turn_key,
)
from actions.payments import PaymentAction, clear_offer, paused
from bot.domain.amounts import parse_amount
from bot.domain.disputes import (
    FLAG_BY_INTENT,
    PRIORITY_EXTENSION,
    PRIORITY_HARDSHIP,
    PRIORITY_SPECIAL,
    REASON_BY_INTENT,
    Dispute,
    dispute_reason,
    names_disputed_amount,
    parse_past_date,
)
from bot.domain.money import Money
from bot.i18n import format_day, format_money
from bot.replies import owed_to
from bot.services.identification import identify
from bot.services.offers import Offer
from bot.transcripts import transcript

UNKNOWN = "unknown"
DONT_KNOW = ("don't know", "dont know", "not sure", "no idea", "no sé", "no se", "no recuerdo", "don't remember",
             "dont remember", "no me acuerdo")
NOTICE_RESPONSES = {"released_payments": "utter_dispute_notice_released_payments"}  # DISPUTE_NOTICES
NOT_UNDERSTOOD = {"claim_date": "utter_claim_date_not_understood", "claim_amount": "utter_claim_amount_not_understood"}
SPECIAL_RESPONSES = {
    "bankruptcy": "utter_special_bankruptcy",
    "attorney": "utter_special_attorney",
    "deceased": "utter_special_deceased",
    "cease_communication": "utter_special_cease_communication",
}
STATUS_RESPONSES = {
    "open": "utter_dispute_status_open",
    "upheld": "utter_dispute_status_upheld",
    "verified": "utter_dispute_status_verified",
    "withdrawn": "utter_dispute_status_withdrawn",
}


DISPUTE_INTENTS = tuple(REASON_BY_INTENT)


def _intent_of(event: Dict) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def said_when(tracker: Tracker, intents) -> Tuple[Optional[str], str, Optional[str]]:
    """(intent, the consumer's own words, dispute_kind) of the latest message with one of `intents`.

    After verification the latest messages are identity answers: they are skipped, never recorded.
    A button's payload has no words of its own: the words are those of the message it answered."""
    intent, kind, words = None, None, ""
    for event in reversed(tracker.events):
        if event.get("event") != "user" or _intent_of(event) not in intents:
            continue
        if intent is None:
            intent = _intent_of(event)
            kind = next((e.get("value") for e in (event.get("parse_data") or {}).get("entities") or []
                         if e.get("entity") == "dispute_kind"), None)
        text = event.get("text") or ""
        if text and not text.startswith("/"):
            words = text
            break
    return intent, words, kind


class ActionOpenDispute(PaymentAction):
    """Records the dispute, holds the amount, queues a person, and says plainly what happens next."""

    def name(self) -> Text:
        return "action_open_dispute"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        intent, words, kind = said_when(tracker, DISPUTE_INTENTS)
        statement = self.ledger.statement(account_ref)
        named = parse_amount(words, statement.currency) if names_disputed_amount(words) else None
        opened = self.disputes.open_dispute(
            account_ref, conversation_id=tracker.sender_id, channel=channel_of(tracker),
            reason=dispute_reason(intent, words, kind), words=words, amount=named,
            transcript=transcript(tracker.events), turn_key=turn_key(tracker))
        say_dispute_recorded(dispatcher, opened.dispute, statement.creditor, locale_of(tracker))
        return [SlotSet("active_account", account_ref)]


def say_dispute_recorded(dispatcher: CollectingDispatcher, dispute: Dispute, creditor, locale: str) -> None:
    dispatcher.utter_message(response="utter_dispute_recorded", amount=format_money(dispute.amount, locale),
                             answer_by=format_day(dispute.answer_by, locale))
    notice = creditor.policy.dispute_notice
    if notice and not creditor.is_agency:  # information only: the dispute is taken either way
        dispatcher.utter_message(response=NOTICE_RESPONSES[notice], creditor=owed_to(creditor))


class ActionDisputeStatus(PaymentAction):
    def name(self) -> Text:
        return "action_dispute_status"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        found = self.disputes.status(account_ref)
        locale = locale_of(tracker)
        if not found:
            dispatcher.utter_message(response="utter_no_disputes")
        for dispute in found[:3]:
            dispatcher.utter_message(
                response=STATUS_RESPONSES[dispute.status], amount=format_money(dispute.amount, locale),
                opened=format_day(dispute.opened_at.date(), locale), answer_by=format_day(dispute.answer_by, locale),
                resolved=format_day((dispute.resolved_at or dispute.opened_at).date(), locale))
        return [SlotSet("active_account", account_ref)]


# --- "I already paid" (journey 11) -------------------------------------------------------------------


class ValidatePaymentClaimForm(PaymentAction):
    """Date, amount and method of a payment the consumer says they made; "I don't know" is an answer."""

    def name(self) -> Text:
        return "validate_payment_claim_form"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        if requested is None:  # the opening message may already say when and how much
            if latest_intent(tracker) != "claim_already_paid":
                return []
            return [SlotSet(slot, value) for slot, value in self._read(tracker, text).items() if value]
        if requested == "claim_method":
            return [SlotSet("claim_method", UNKNOWN if _dont_know(text) else text.strip()[:200] or None)]
        value = UNKNOWN if _dont_know(text) else self._read(tracker, text).get(requested)
        if value is None:
            dispatcher.utter_message(response=NOT_UNDERSTOOD[requested])
        return [SlotSet(requested, value)]

    def _read(self, tracker: Tracker, text: str) -> Dict[str, Optional[str]]:
        currency = self.ledger.statement(self.account_ref(tracker)).currency
        paid_on = parse_past_date(text, self.now().date())
        amount = parse_amount(text, currency)
        return {"claim_date": paid_on.isoformat() if paid_on else None,
                "claim_amount": str(amount.minor) if amount and amount.minor > 0 else None}


def _dont_know(text: str) -> bool:
    lowered = text.lower().replace("’", "'")
    return any(phrase in lowered for phrase in DONT_KNOW)


class ActionRecordPaymentClaim(PaymentAction):
    """Looks for the payment in the ledger; if it is not there, records the claim as a dispute (the
    amount is held) and hands it to payment operations."""

    def name(self) -> Text:
        return "action_record_payment_claim"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        statement = self.ledger.statement(account_ref)
        locale = locale_of(tracker)
        paid_on = _slot_date(tracker.get_slot("claim_date"))
        amount = _slot_money(tracker.get_slot("claim_amount"), statement.currency)
        method = tracker.get_slot("claim_method")
        cleared = [SlotSet(slot, None) for slot in ("claim_date", "claim_amount", "claim_method")]
        found = self.disputes.find_payment(account_ref, amount, paid_on) if (amount or paid_on) else None
        if found is not None:
            dispatcher.utter_message(response="utter_payment_found", amount=format_money(-found.amount, locale),
                                     date=format_day(found.posted_at.date(), locale),
                                     balance=format_money(statement.balance, locale))
            return cleared
        words = said_when(tracker, ("claim_already_paid",))[1]
        key = turn_key(tracker)
        opened = self.disputes.open_dispute(
            account_ref, conversation_id=tracker.sender_id, channel=channel_of(tracker), reason="already_paid",
            words=words, amount=amount, transcript=transcript(tracker.events), turn_key=key)
        self.disputes.record_payment_claim(
            account_ref, conversation_id=tracker.sender_id, channel=channel_of(tracker), paid_on=paid_on,
            amount=amount, method=None if method == UNKNOWN else method, words=words, turn_key=key,
            handoff_id=opened.dispute.handoff_id)
        dispatcher.utter_message(response="utter_payment_claim_recorded",
                                 amount=format_money(opened.dispute.amount, locale),
                                 answer_by=format_day(opened.dispute.answer_by, locale))
        return cleared + [SlotSet("active_account", account_ref)]


def _slot_date(value: Optional[str]) -> Optional[date]:
    return date.fromisoformat(value) if value and value != UNKNOWN else None


def _slot_money(value: Optional[str], currency: str) -> Optional[Money]:
    return Money(int(value), currency) if value and value != UNKNOWN else None


# --- extension and hardship (journeys 9 and 12) ------------------------------------------------------


class HandingOffAction(PaymentAction, ABC):
    """An answer that may queue the conversation for a person."""

    def handoff(self, tracker: Tracker, account_ref: str, reason: str, priority: int) -> None:
        self.ledger.open_handoff(tracker.sender_id, channel_of(tracker), account_ref, reason,
                                 transcript(tracker.events), self.now(), priority=priority)


class ActionExtension(HandingOffAction):
    """More time, as the creditor's policy allows: never (offer a promise instead), with proof, or a person."""

    def name(self) -> Text:
        return "action_extension"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        statement = self.ledger.statement(account_ref)
        options = self.payments.options(account_ref)
        policy = statement.creditor.policy.extension_policy
        locale = locale_of(tracker)
        if options.collection_stopped:
            dispatcher.utter_message(response=paused(options))
        elif policy == "none":
            dispatcher.utter_message(response="utter_extension_not_offered", creditor=owed_to(statement.creditor),
                                     limit=format_day(self.promise_limit(options), locale))
        else:
            self.handoff(tracker, account_ref, "request_extension", PRIORITY_EXTENSION)
            response = "utter_extension_proof" if policy == "proof_required" else "utter_extension_handoff"
            dispatcher.utter_message(response=response, creditor=owed_to(statement.creditor))
        return [SlotSet("active_account", account_ref)]


class ActionHardship(HandingOffAction):
    """Acknowledge; offer the smallest installment policy allows, or hand off to a person."""

    def name(self) -> Text:
        return "action_hardship"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        options = self.payments.options(account_ref)
        dispatcher.utter_message(response="utter_hardship_acknowledged")
        if options.collection_stopped:
            dispatcher.utter_message(response=paused(options))
            return clear_offer()
        smallest = self._smallest_plan(account_ref, options)
        if smallest is None:
            self.handoff(tracker, account_ref, "hardship", PRIORITY_HARDSHIP)
            dispatcher.utter_message(response="utter_hardship_handoff")
            return clear_offer()
        dispatcher.utter_message(response="utter_hardship_smallest_plan")
        offer = Offer("plan", account_ref, amount=smallest.total, frequency=smallest.frequency,
                      installments=tuple((i.due, i.amount) for i in smallest.installments))
        return self.offer_events(dispatcher, tracker, offer)

    def _smallest_plan(self, account_ref: str, options):
        if not options.plans_allowed or options.has_live_plan:
            return None
        try:
            proposals = self.payments.propose_plans(account_ref)
        except Exception:  # PlansNotAllowed and friends: a person decides instead
            return None
        return min(proposals, key=lambda p: p.installments[0].amount.minor, default=None)


# --- special circumstances (journey 13) --------------------------------------------------------------


class ActionSpecialCircumstance(AssistantAction):
    """Bankruptcy, attorney, deceased, cease communication: every account of the consumer stops at once.

    Before verification the reply says nothing about any debt (a relative or an attorney may be
    writing); stopping collection is the safe direction, and a person follows up either way."""

    def name(self) -> Text:
        return "action_special_circumstance"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        flag = FLAG_BY_INTENT.get(latest_intent(tracker) or "", "cease_communication")
        refs = self._account_refs(tracker)
        words, history = said_when(tracker, tuple(FLAG_BY_INTENT))[1], transcript(tracker.events)
        for index, ref in enumerate(refs):
            self.disputes.flag_account(
                ref, flag, source=f"conversation:{tracker.sender_id}", words=words,
                conversation_id=tracker.sender_id if index == 0 else None, channel=channel_of(tracker),
                transcript=history)
        if not refs:
            self.ledger.open_handoff(tracker.sender_id, channel_of(tracker), None, flag, history, self.now(),
                                     priority=PRIORITY_SPECIAL)
        verified = bool(tracker.get_slot("verified")) and refs
        dispatcher.utter_message(response=SPECIAL_RESPONSES[flag] if verified else "utter_special_noted")
        return []

    def _account_refs(self, tracker: Tracker) -> List[str]:
        consumer = consumer_id(tracker)
        if consumer is None:
            found = identify(self.ledger, self.link_signer, tracker.sender_id, input_channel(tracker),
                             latest_metadata(tracker))
            consumer = found.consumer.id if found else None
        if consumer is None:
            return []
        return [statement.account_ref for statement in self.ledger.accounts_of(consumer)]

