"""Journeys 5-8 and 17: pay now, settle, plans, promises, status and payment outcomes.

Every amount and date is offered back to the consumer first (slot `offer`, `offer_pending`), and
only `action_accept_offer` creates anything, with exactly the numbers the consumer confirmed.
"""
from __future__ import annotations

import re
from abc import ABC
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import (
    AssistantAction,
    channel_of,
    consumer_id,
    input_channel,
    latest_intent,
    locale_of,
    previous_action,
    say,
)
from bot.domain.amounts import parse_amount
from bot.domain.dates import parse_future_date
from bot.domain.money import Money
from bot.i18n import format_day, format_money
from bot.payments.model import (
    PaymentRefused,
    PaymentDelayed,
    PaymentUnavailable,
    PlanRefused,
    PlansNotAllowed,
    PromiseRefused,
    UnknownPaymentRequest,
)
from bot.replies import (
    Reply,
    offer_replies,
    owed_to,
    payment_outcome_reply,
    payment_status_replies,
    plan_option_replies,
    refusal_reply,
)
from bot.services.account_answers import choose_account
from bot.services.identification import accounts_on_channel
from bot.services.offers import Offer

OFFERING_ACTIONS = {
    "action_offer_payment", "action_offer_settlement", "action_choose_plan", "action_offer_cancel_plan",
    "action_offer_promise",
}
# A form answer is read from the message only when the consumer is answering the form's question,
# or when the message that opened the form already said it ("pay $100 now").
UNAVAILABLE = "unavailable"
FREQUENCY_WORDS = {
    "weekly": ("weekly", "every week", "a week", "each week", "semanal", "cada semana", "por semana"),
    "biweekly": ("biweekly", "bi-weekly", "every two weeks", "every 2 weeks", "every other week", "quincenal",
                 "cada dos semanas", "cada 2 semanas", "cada quince"),
    "monthly": ("monthly", "a month", "every month", "per month", "each month", "mensual", "al mes",
                "cada mes", "por mes"),
}


class PaymentAction(AssistantAction, ABC):
    """Shared reading of the account, the offer and the options."""

    def account_ref(self, tracker: Tracker) -> Text:
        return tracker.get_slot("active_account") or self._first_account(tracker)

    def _first_account(self, tracker: Tracker) -> Text:
        statements = accounts_on_channel(self.ledger, consumer_id(tracker), input_channel(tracker))
        return choose_account(statements, None).account_ref

    def promise_limit(self, options) -> date:
        """The latest date a promise may name: the creditor's limit from today."""
        return self.now().date() + timedelta(days=options.promise_max_days)

    def offer_events(self, dispatcher: CollectingDispatcher, tracker: Tracker, offer: Offer) -> List[EventType]:
        say(dispatcher, offer_replies(offer, locale_of(tracker)))
        return [SlotSet("offer", offer.to_json()), SlotSet("offer_pending", True), SlotSet("active_account", offer.account_ref)]


def paused(options) -> str:
    """Why nothing is asked for: a dispute under review (all of it on hold), or collection stopped."""
    return "utter_payment_paused_dispute" if options.stop_reason == "on_hold" else "utter_collection_paused"


def clear_offer() -> List[EventType]:
    return [SlotSet("offer", None), SlotSet("offer_pending", False)]


class ActionAskPaymentAmount(PaymentAction):
    def name(self) -> Text:
        return "action_ask_payment_amount"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        options = self.payments.options(self.account_ref(tracker))
        locale = locale_of(tracker)
        balance = format_money(options.collectible, locale)
        if options.minimum_partial is not None and options.minimum_partial < options.collectible:
            dispatcher.utter_message(response="utter_payment_amount_question_minimum", balance=balance,
                                     minimum=format_money(options.minimum_partial, locale))
        else:
            dispatcher.utter_message(response="utter_payment_amount_question", balance=balance)
        return []


class ValidatePaymentForm(PaymentAction):
    """The amount, from the message; checked against what is owed and the creditor's minimum."""

    def name(self) -> Text:
        return "validate_payment_form"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        requested = tracker.get_slot("requested_slot")
        opening = requested is None
        if opening and latest_intent(tracker) != "make_payment":
            return []
        options = self.payments.options(self.account_ref(tracker))
        if options.collection_stopped or options.collectible.minor <= 0:
            return [SlotSet("payment_amount", UNAVAILABLE)]
        amount = parse_amount(tracker.latest_message.get("text") or "", options.collectible.currency,
                              options.collectible)
        if amount is None:
            if opening:
                return []
            dispatcher.utter_message(response="utter_amount_not_understood")
            return [SlotSet("payment_amount", None)]
        problem = _amount_problem(amount, options, locale_of(tracker))
        if problem is not None:
            dispatcher.utter_message(**problem)
            return [SlotSet("payment_amount", None)]
        return [SlotSet("payment_amount", str(amount.minor))]


def _amount_problem(amount: Money, options, locale: str) -> Optional[Dict[str, Any]]:
    if amount > options.collectible:
        return {"response": "utter_amount_above_balance", "balance": format_money(options.collectible, locale)}
    minimum = options.minimum_partial
    if amount.minor <= 0 or (minimum is not None and amount < minimum and amount != options.collectible):
        floor = minimum if minimum is not None else Money(1, amount.currency)
        return {"response": "utter_amount_below_minimum", "minimum": format_money(floor, locale)}
    return None


class ActionOfferPayment(PaymentAction):
    def name(self) -> Text:
        return "action_offer_payment"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        chosen = tracker.get_slot("payment_amount")
        events: List[EventType] = [SlotSet("payment_amount", None)]
        account_ref = self.account_ref(tracker)
        options = self.payments.options(account_ref)
        if chosen in (None, UNAVAILABLE):
            dispatcher.utter_message(response=paused(options) if options.collection_stopped else "utter_nothing_due")
            return events + clear_offer()
        amount = Money(int(chosen), options.collectible.currency)
        purpose = "full" if amount == options.collectible else "partial"
        return events + self.offer_events(dispatcher, tracker, Offer("payment", account_ref, amount=amount,
                                                                       purpose=purpose))


class ActionOfferSettlement(PaymentAction):
    def name(self) -> Text:
        return "action_offer_settlement"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        options = self.payments.options(account_ref)
        if options.collection_stopped:
            dispatcher.utter_message(response=paused(options))
            return clear_offer()
        if options.settlement is None:
            dispatcher.utter_message(response="utter_no_settlement")
            return clear_offer()
        offer = Offer("settlement", account_ref, amount=options.settlement.amount, due=options.settlement.expires,
                      purpose="settlement")
        dispatcher.utter_message(
            response="utter_settlement_offer", balance=format_money(options.collectible, locale_of(tracker)),
            amount=format_money(offer.amount, locale_of(tracker)), expires=format_day(offer.due, locale_of(tracker)))
        return [SlotSet("offer", offer.to_json()), SlotSet("offer_pending", True)]


class ActionOfferPlans(PaymentAction):
    """Plans within policy, or built from what the consumer says they can afford."""

    def name(self) -> Text:
        return "action_offer_plans"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        statement = self.ledger.statement(account_ref)
        options = self.payments.options(account_ref)
        if options.collection_stopped:
            dispatcher.utter_message(response=paused(options))
            return [SlotSet("plans_offered", False)] + clear_offer()
        text = tracker.latest_message.get("text") or ""
        affordable = parse_amount(text, options.collectible.currency)  # "all"/"half" mean nothing here
        frequency = requested_frequency(text)
        locale = locale_of(tracker)
        try:
            proposals = self.payments.propose_plans(account_ref, frequency=frequency, affordable=affordable)
            if not proposals and (affordable is not None or frequency is not None):
                # What was asked for does not fit the creditor's policy: show what does.
                if affordable is not None:
                    dispatcher.utter_message(response="utter_no_plan_fits", amount=format_money(affordable, locale))
                proposals = self.payments.propose_plans(account_ref)
        except PlansNotAllowed:
            dispatcher.utter_message(response="utter_no_plans", creditor=owed_to(statement.creditor))
            return [SlotSet("plans_offered", False)] + clear_offer()
        if not proposals:
            dispatcher.utter_message(response="utter_no_plans", creditor=owed_to(statement.creditor))
            return [SlotSet("plans_offered", False)] + clear_offer()
        offers = [Offer("plan", account_ref, amount=p.total, frequency=p.frequency,
                        installments=tuple((i.due, i.amount) for i in p.installments)) for p in proposals[:3]]
        say(dispatcher, plan_option_replies(offers, options.collectible, locale))
        return [SlotSet("plan_options", "[" + ",".join(o.to_json() for o in offers) + "]"),
                SlotSet("plans_offered", True), SlotSet("active_account", account_ref)] + clear_offer()


def requested_frequency(text: str) -> Optional[str]:
    lowered = text.lower()
    for frequency in ("biweekly", "weekly", "monthly"):  # "every two weeks" before "week"
        if any(word in lowered for word in FREQUENCY_WORDS[frequency]):
            return frequency
    return None


class ActionChoosePlan(PaymentAction):
    def name(self) -> Text:
        return "action_choose_plan"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        import json

        options = [Offer.from_json(json.dumps(item)) for item in json.loads(tracker.get_slot("plan_options") or "[]")]
        number = _option_number(tracker)
        if not options or number is None or not 1 <= number <= len(options):
            dispatcher.utter_message(response="utter_offer_expired")
            return clear_offer()
        return [SlotSet("plans_offered", False)] + self.offer_events(dispatcher, tracker, options[number - 1])


def _option_number(tracker: Tracker) -> Optional[int]:
    for value in tracker.get_latest_entity_values("plan_option"):
        if str(value).isdigit():
            return int(value)
    digits = re.search(r"\b([1-3])\b", tracker.latest_message.get("text") or "")
    return int(digits.group(1)) if digits else None


class ActionOfferCancelPlan(PaymentAction):
    def name(self) -> Text:
        return "action_offer_cancel_plan"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        if self.payments.status(account_ref).active_plan is None:
            dispatcher.utter_message(response="utter_no_active_plan")
            return clear_offer()
        return self.offer_events(dispatcher, tracker, Offer("cancel_plan", account_ref))


class ActionAskPromiseAmount(PaymentAction):
    def name(self) -> Text:
        return "action_ask_promise_amount"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        options = self.payments.options(self.account_ref(tracker))
        dispatcher.utter_message(response="utter_promise_amount_question",
                                 balance=format_money(options.collectible, locale_of(tracker)))
        return []


class ActionAskPromiseDate(PaymentAction):
    def name(self) -> Text:
        return "action_ask_promise_date"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        options = self.payments.options(self.account_ref(tracker))
        dispatcher.utter_message(response="utter_promise_date_question",
                                 limit=format_day(self.promise_limit(options), locale_of(tracker)))
        return []


class ValidatePromiseForm(PaymentAction):
    """Amount and date of a promise to pay, from the message, within the creditor's limit."""

    def name(self) -> Text:
        return "validate_promise_form"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        requested = tracker.get_slot("requested_slot")
        if requested is None and latest_intent(tracker) != "promise_to_pay":
            return []
        options = self.payments.options(self.account_ref(tracker))
        if options.collection_stopped:
            return [SlotSet("promise_amount", UNAVAILABLE), SlotSet("promise_date", UNAVAILABLE)]
        text = tracker.latest_message.get("text") or ""
        events: List[EventType] = []
        if requested in (None, "promise_amount"):
            events += self._amount(dispatcher, text, options, locale_of(tracker), complain=requested is not None)
        if requested in (None, "promise_date"):
            events += self._date(dispatcher, text, options, locale_of(tracker), complain=requested is not None)
        return events

    def _amount(self, dispatcher, text: str, options, locale: str, complain: bool) -> List[EventType]:
        amount = parse_amount(text, options.collectible.currency, options.collectible)
        if amount is None or amount.minor <= 0:
            if complain:
                dispatcher.utter_message(response="utter_amount_not_understood")
                return [SlotSet("promise_amount", None)]
            return []
        if amount > options.collectible:
            dispatcher.utter_message(response="utter_amount_above_balance",
                                     balance=format_money(options.collectible, locale))
            return [SlotSet("promise_amount", None)]
        return [SlotSet("promise_amount", str(amount.minor))]

    def _date(self, dispatcher, text: str, options, locale: str, complain: bool) -> List[EventType]:
        due = parse_future_date(text, today=self.now().date())
        if due is None:
            if complain:
                dispatcher.utter_message(response="utter_date_not_understood")
                return [SlotSet("promise_date", None)]
            return []
        latest = self.promise_limit(options)
        if due > latest:
            dispatcher.utter_message(response="utter_promise_date_too_late", limit=format_day(latest, locale))
            return [SlotSet("promise_date", None)]
        return [SlotSet("promise_date", due.isoformat())]


class ActionOfferPromise(PaymentAction):
    def name(self) -> Text:
        return "action_offer_promise"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        account_ref = self.account_ref(tracker)
        options = self.payments.options(account_ref)
        if UNAVAILABLE in (tracker.get_slot("promise_amount"), tracker.get_slot("promise_date")):
            dispatcher.utter_message(response=paused(options))
            return [SlotSet("promise_amount", None), SlotSet("promise_date", None)] + clear_offer()
        currency = options.collectible.currency
        offer = Offer("promise", account_ref, amount=Money(int(tracker.get_slot("promise_amount")), currency),
                      due=date.fromisoformat(tracker.get_slot("promise_date")))
        return [SlotSet("promise_amount", None), SlotSet("promise_date", None)] + self.offer_events(
            dispatcher, tracker, offer)


class ActionAcceptOffer(PaymentAction):
    """The consumer said yes: create exactly what was offered, once."""

    def name(self) -> Text:
        return "action_accept_offer"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        offer = Offer.from_json(tracker.get_slot("offer"))
        if offer is None or previous_action(tracker) not in OFFERING_ACTIONS:
            dispatcher.utter_message(response="utter_offer_expired")
            return clear_offer()
        locale = locale_of(tracker)
        conversation, channel = tracker.sender_id, channel_of(tracker)
        try:
            say(dispatcher, self._create(offer, conversation, channel, locale))
        except (PaymentRefused, PlanRefused, PromiseRefused) as refused:
            say(dispatcher, [refusal_reply(refused.reason, self.payments.options(offer.account_ref), locale)])
        except PaymentDelayed:
            dispatcher.utter_message(response="utter_payment_link_delayed")
            return clear_offer()  # created and queued: the link follows by itself
        except PaymentUnavailable:
            dispatcher.utter_message(response="utter_payment_unavailable")
            return []  # the offer stands: "yes" again in a minute creates it
        return clear_offer()

    def _create(self, offer: Offer, conversation: str, channel: str, locale: str) -> List[Reply]:
        if offer.kind in ("payment", "settlement"):
            request = self.payments.request_payment(offer.account_ref, offer.amount, offer.purpose, conversation,
                                                    channel)
            return [Reply("utter_payment_link", {"amount": format_money(request.amount, locale), "url": request.url,
                                                 "expires": format_day(request.expires_at.date(), locale)})]
        if offer.kind == "plan":
            return self._plan(offer, conversation, channel, locale)
        if offer.kind == "promise":
            self.payments.record_promise(offer.account_ref, offer.amount, offer.due, conversation, channel)
            return [Reply("utter_promise_recorded", {"amount": format_money(offer.amount, locale),
                                                     "date": format_day(offer.due, locale)})]
        self.payments.cancel_plan(offer.account_ref)
        return [Reply("utter_plan_cancelled")]


    def _plan(self, offer: Offer, conversation: str, channel: str, locale: str) -> List[Reply]:
        """A new plan, or a change to the live one (the saved card carries over: no setup page)."""
        first_due, first_amount = offer.installments[0]
        arguments = {"amount": format_money(first_amount, locale), "first_date": format_day(first_due, locale)}
        if self.payments.options(offer.account_ref).has_live_plan:
            changed = self.payments.change_plan(offer.account_ref, _proposal(offer), conversation, channel)
            if changed.setup_url is None:
                return [Reply("utter_plan_changed", arguments)]
            return [Reply("utter_plan_created", {**arguments, "url": changed.setup_url})]
        created = self.payments.create_plan(offer.account_ref, _proposal(offer), conversation, channel)
        return [Reply("utter_plan_created", {**arguments, "url": created.setup_url})]


def _proposal(offer: Offer):
    from bot.domain.plans import Installment, PlanProposal

    return PlanProposal(offer.frequency, tuple(Installment(due, amount) for due, amount in offer.installments))


class ActionDeclineOffer(PaymentAction):
    def name(self) -> Text:
        return "action_decline_offer"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(response="utter_offer_withdrawn")
        dispatcher.utter_message(response="utter_anything_else")
        return clear_offer()


class ActionPaymentStatus(PaymentAction):
    def name(self) -> Text:
        return "action_payment_status"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        status = self.payments.status(self.account_ref(tracker))
        say(dispatcher, payment_status_replies(status, locale_of(tracker)))
        return []


class ActionPaymentOutcome(PaymentAction):
    """Triggered by the backend (EXTERNAL_payment_outcome) when a payment succeeds, fails or is reversed."""

    def name(self) -> Text:
        return "action_payment_outcome"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        request_id = next(tracker.get_latest_entity_values("payment_request_id"), None)
        event = next(tracker.get_latest_entity_values("payment_event"), None)
        try:
            view = self.payments.payment_request(request_id)
        except UnknownPaymentRequest:
            return []
        say(dispatcher, [payment_outcome_reply(view, event, locale_of(tracker))])
        return []


class ActionCardWarning(PaymentAction):
    """A card number typed into the chat: the channel removed it; warn and point to the secure page."""

    def name(self) -> Text:
        return "action_card_warning"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(response="utter_card_warning")
        if not tracker.get_slot("verified"):
            return []
        account_ref = self.account_ref(tracker)
        options = self.payments.options(account_ref)
        try:
            request = self.payments.request_payment(account_ref, options.collectible, "full", tracker.sender_id,
                                                    channel_of(tracker))
        except (PaymentRefused, PaymentUnavailable):
            return []
        dispatcher.utter_message(response="utter_card_warning_link", url=request.url)
        return []
