"""Journey 1 on web chat without a personal link: account reference, then a one-time code, then DOB + ZIP.

The visitor types an account reference and chooses text message or email; a code goes to the phone or
email on file (bot.services.one_time_codes, through the outbound service); the code proves possession
of it, and the verification form (date of birth and ZIP) follows as for everyone. Nothing in the
replies says whether the reference exists, or where the code went beyond the phone's last two digits
or the email's first letters.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, consumer_id, input_channel, latest_intent
from actions.verification import ESCAPE_INTENTS, VerificationAction
from bot import bootstrap
from bot.domain.channels import PHONE_ADDRESSED
from bot.domain.identity import parse_account_ref, phone_from_address
from bot.services.identification import accounts_on_channel

CONFIRMED = "confirmed"
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
# How people answer "text message or email?" (the buttons send "text message" and "email").
_EMAIL_WORDS = {"2", "email", "e-mail", "mail", "correo", "electronico", "electrónico"}
_PHONE_WORDS = {"1", "text", "texto", "sms", "phone", "teléfono", "telefono", "celular", "cell", "mobile"}
_MESSAGE_WORDS = {"message", "mensaje"}  # "text message" / "mensaje de texto", but also "email message"


def restart_code() -> List[EventType]:
    """Forget the route and the code: the form asks where to send a new one."""
    return [SlotSet("code_route_answer", None), SlotSet("code_answer", None)]


def start_web_identity(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """What action_start_verification does for a sender it cannot identify.

    A phone number we do not know (SMS, WhatsApp, REST with an E.164 sender) learns only that we
    need a personal link; a web visitor is asked for an account reference and a one-time code.
    """
    if input_channel(tracker) in PHONE_ADDRESSED and phone_from_address(tracker.sender_id):
        dispatcher.utter_message(response="utter_need_personal_link")
        return [SlotSet("can_verify", False)]
    dispatcher.utter_message(response="utter_verification_intro")
    return [SlotSet("can_verify", False), SlotSet("account_ref_answer", None), *restart_code(),
            FollowupAction("web_identity_form")]


def typed_route(text: str) -> Optional[str]:
    """'phone' or 'email' from the visitor's answer; None when it names neither or both."""
    words = set(re.findall(r"[\w-]+", (text or "").lower()))
    email, phone = bool(words & _EMAIL_WORDS), bool(words & _PHONE_WORDS)
    if email != phone:
        return "email" if email else "phone"
    if not email and words & _MESSAGE_WORDS:
        return "phone"
    return None


def typed_code(text: str) -> Optional[str]:
    """Six digits, typed as "123456", "123 456" or "123-456"."""
    match = _CODE.search(re.sub(r"(?<=\d)[\s-](?=\d)", "", text or ""))
    return match.group(1) if match else None


class ValidateWebIdentityForm(AssistantAction):
    """Reference, then where to send the code (phone or email), then the code; the tracker never holds the code."""

    def __init__(self, *args, codes=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._codes = codes

    @property
    def codes(self):
        if self._codes is None:
            self._codes = bootstrap.one_time_codes()
        return self._codes

    def name(self) -> Text:
        return "validate_web_identity_form"

    def respond(self, dispatcher, tracker, domain) -> List[EventType]:
        raise NotImplementedError("run() is asynchronous: sending a code awaits the outbound service")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        if requested in ("code_route_answer", "code_answer") and parse_account_ref(text):
            # A reference again: the visitor wants a new code (perhaps the other way).
            return [SlotSet("account_ref_answer", parse_account_ref(text)), *restart_code()]
        if requested == "code_route_answer":
            return await self._route(dispatcher, tracker, text)
        if requested == "code_answer":
            return await self._code(dispatcher, tracker, text)
        # The reference is asked for, or the form is opening on a message that may already name one.
        return self._reference(dispatcher, tracker, text, activating=requested != "account_ref_answer")

    def _reference(self, dispatcher, tracker, text: str, activating: bool) -> List[EventType]:
        reference = parse_account_ref(text)
        if reference is None:
            if activating or latest_intent(tracker) in ESCAPE_INTENTS:
                return []  # the form asks for it, or steps aside for the intent's own rule
            dispatcher.utter_message(response="utter_account_ref_not_understood")
            return [SlotSet("account_ref_answer", None)]
        return [SlotSet("account_ref_answer", reference)]  # the form asks where to send the code

    async def _route(self, dispatcher, tracker, text: str) -> List[EventType]:
        route = typed_route(text)
        if route is None:
            if latest_intent(tracker) in ESCAPE_INTENTS:
                return []
            dispatcher.utter_message(response="utter_code_route_not_understood")
            return [SlotSet("code_route_answer", None)]
        sent = await self.codes.request(tracker.sender_id, tracker.get_slot("account_ref_answer"),
                                        tracker.get_slot("language"), route)
        if sent.outcome == "rate_limited":
            dispatcher.utter_message(response="utter_code_rate_limited")
            return [SlotSet("account_ref_answer", None), SlotSet("code_route_answer", None),
                    SlotSet("requested_slot", None)]
        if route == "email":
            dispatcher.utter_message(response="utter_code_emailed", email_hint=sent.hint)
        else:
            dispatcher.utter_message(response="utter_code_sent", phone_hint=sent.hint)
        return [SlotSet("code_route_answer", route)]

    async def _code(self, dispatcher, tracker, text: str) -> List[EventType]:
        code = typed_code(text)
        if code is None:
            if latest_intent(tracker) in ESCAPE_INTENTS:
                return []
            dispatcher.utter_message(response="utter_code_not_understood")
            return [SlotSet("code_answer", None)]
        checked = await self.codes.check(tracker.sender_id, code)
        if checked.outcome == "confirmed":
            return [SlotSet("code_answer", CONFIRMED), SlotSet("consumer_id", str(checked.consumer_id)),
                    SlotSet("identified_by", "code"), SlotSet("active_account", checked.account_ref)]
        if checked.outcome == "wrong":
            dispatcher.utter_message(response="utter_code_wrong", attempts_left=str(checked.attempts_left))
            return [SlotSet("code_answer", None)]
        # Expired, used up or never sent: start over with the reference (code requests are rate-limited).
        dispatcher.utter_message(response="utter_code_expired")
        return [SlotSet("account_ref_answer", None), *restart_code()]


class ActionCodeConfirmed(VerificationAction):
    """After the code form: on to date of birth and ZIP when the code was right and the consumer may verify."""

    def name(self) -> Text:
        return "action_code_confirmed"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        reset = [SlotSet("account_ref_answer", None), *restart_code()]
        consumer = consumer_id(tracker)
        if tracker.get_slot("code_answer") != CONFIRMED or consumer is None:
            return reset + [SlotSet("can_verify", False)]
        if not accounts_on_channel(self.ledger, consumer, input_channel(tracker)):
            dispatcher.utter_message(response="utter_channel_redirect")
            return reset + [SlotSet("can_verify", False)]
        until = self._lock_end(consumer, tracker.sender_id)
        if until is not None:
            self._say_locked(dispatcher, tracker, consumer, until)
            return reset + [SlotSet("can_verify", False)]
        dispatcher.utter_message(response="utter_code_confirmed")
        return reset + [SlotSet("can_verify", True)]
