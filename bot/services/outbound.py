"""The outbound messaging service: every message sent outside a live conversation goes through here.

Payment reminders, installment notices, payment outcomes, agent replies outside a live chat and
one-time codes all ask this service, which decides and records (append-only) one of:

* sent       everything allowed it; `reason` says on what ground (`allowed`, or `requested` for a
             code the consumer asked for);
* delayed    allowed later: quiet hours (8am-9pm local, every possible zone when the zone is
             unknown) or the cap on proactive messages per 7 days; `not_before` says when;
* suppressed never: the address opted out, the creditor does not allow the channel, collection is
             stopped on the account, WhatsApp's 24-hour window is closed and no approved template
             exists, the same message went out already, or the channel is not configured;
* failed     the provider refused or could not be reached; a reminder the provider could not take
             (5xx, 429, no answer) gets a `not_before` and is tried again, up to 3 failures.

Texts come only from the response catalog (domain.yml and locales/) in the consumer's language;
proactive messages carry the channel's opt-out line, and accounts of agency creditors the debt
collector disclosure.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union
from zoneinfo import ZoneInfo

from bot.domain.accounts import Statement
from bot.domain.disputes import STOP_FLAGS
from bot.domain.quiet_hours import US_ZONES, allowed, next_allowed
from bot.domain.segments import split_by_characters, split_sms
from bot.ledger.messaging import OutboundRecord
from bot.messaging_config import MessagingConfig, Template

logger = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)
CAP_PERIOD = timedelta(days=7)
WHATSAPP_BODY_LIMIT = 1600  # Twilio's limit for one message body
MASK = "[withheld]"


@dataclass(frozen=True)
class Purpose:
    """Why a message goes out, and which rules that brings."""

    proactive: bool  # quiet hours and the opt-out line apply
    collection: bool  # stopped by cease-communication flags, holds and a zero balance
    discusses_account: bool  # only on channels the creditor allows
    capped: bool = False  # counts toward (and waits for) the cap on proactive messages per 7 days


PURPOSES: Dict[str, Purpose] = {
    "payment_reminder": Purpose(proactive=True, collection=True, discusses_account=True, capped=True),
    "installment_notice": Purpose(proactive=True, collection=True, discusses_account=True, capped=True),
    "promise_reminder": Purpose(proactive=True, collection=True, discusses_account=True, capped=True),
    # Receipts and answers are not collection attempts: quiet hours apply, the cap does not.
    "payment_outcome": Purpose(proactive=True, collection=False, discusses_account=True),
    "agent_reply": Purpose(proactive=True, collection=False, discusses_account=True),
    # A message Rasa's HTTP API puts into an SMS/WhatsApp conversation (trigger_intent), already rendered.
    "conversation_update": Purpose(proactive=True, collection=False, discusses_account=False),
    # A code answers the consumer's own request in the web chat: any hour, no cap, nothing disclosed.
    "one_time_code": Purpose(proactive=False, collection=False, discusses_account=False),
}

CAPPED_PURPOSES = tuple(name for name, purpose in PURPOSES.items() if purpose.capped)
# Delayed messages the service itself sends again when allowed (OutboundService.send_delayed).
# Payment outcomes are queued by the payments outbox instead; agent replies by the agent console.
REQUEUED_PURPOSES = ("payment_reminder",)
FAILED_RETRY_AFTER = timedelta(minutes=10)  # a reminder the provider could not take is tried again then
MAX_SEND_FAILURES = 3


class Sender(Protocol):
    """A channel's way out (bot.adapters.twilio_sender.TwilioSender); returns the provider's id."""

    channel: str

    def address(self, phone: str) -> str: ...

    async def send_text(self, to: str, body: str) -> str: ...

    async def send_content(self, to: str, content_sid: str, variables: Mapping[str, str]) -> str: ...


class EmailSender(Protocol):
    """The email channel's way out (bot.adapters.email_sender: SMTP, or the sandbox mailbox)."""

    channel: str

    async def send_email(self, to: str, subject: str, body: str) -> str: ...


@dataclass(frozen=True)
class OutboundMessage:
    purpose: str
    response: str  # a response name of the domain; the text is rendered in the consumer's language
    channel: str  # sms | whatsapp | email
    address: str  # the channel address: +E.164, whatsapp:+E.164, or an email address
    arguments: Mapping[str, str] = field(default_factory=dict)
    consumer_id: Optional[int] = None
    account_ref: Optional[str] = None
    language: Optional[str] = None  # default: the consumer's placement language
    message_key: Optional[str] = None  # a message with the same key is sent once
    masked: Tuple[str, ...] = ()  # values kept out of the record (a one-time code)
    subject: Optional[str] = None  # email: the response name of the subject line

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {self.purpose!r}; one of {sorted(PURPOSES)}")


@dataclass(frozen=True)
class Decision:
    status: str  # sent | delayed | suppressed | failed
    reason: str
    not_before: Optional[datetime] = None
    provider_ids: Tuple[str, ...] = ()
    channel: Optional[str] = None
    address: Optional[str] = None

    @property
    def sent(self) -> bool:
        return self.status == "sent"


@dataclass(frozen=True)
class _Ready:
    """Everything allowed it: what to send, and the record's body."""

    sender: Union[Sender, EmailSender]
    body: str
    subject: str = ""  # email only
    template: Optional[Template] = None
    variables: Mapping[str, str] = field(default_factory=dict)
    reason: str = "allowed"


class OutboundService:
    def __init__(
        self,
        ledger,
        messaging,
        catalogs,
        senders: Mapping[str, Union[Sender, EmailSender]],
        *,
        config: MessagingConfig = MessagingConfig(),
        weekly_cap: int = 3,
        sms_max_segments: int = 3,
        link_for: Optional[Callable[[str, str], str]] = None,
        clock: Optional[Callable[[], datetime]] = None,
        possible_zones: Sequence[str] = US_ZONES,
    ) -> None:
        self.ledger = ledger
        self.messaging = messaging
        self.catalogs = catalogs
        self.senders = {channel: sender for channel, sender in senders.items() if sender is not None}
        self.config = config
        self.weekly_cap = weekly_cap
        self.sms_max_segments = sms_max_segments
        self.link_for = link_for
        self.possible_zones = tuple(possible_zones)
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    # --- the one door -------------------------------------------------------------------------

    async def send(self, message: OutboundMessage, text: Optional[str] = None, *,
                   at: Optional[datetime] = None) -> Decision:
        """Decide, send when allowed, and record the attempt whatever the outcome.

        `text` is a message already rendered elsewhere (Rasa's NLG for a triggered intent); the
        service still adds the disclosure and opt-out line and applies every rule to it. `at`
        decides as of another moment than the clock's (`run-due --at`).
        """
        now = at or self._clock()
        ready = await asyncio.to_thread(self._decide, message, now, text)
        if isinstance(ready, Decision):
            return ready
        try:
            ids = await self._deliver(message, ready)
        except Exception as error:  # the provider's refusal is a recorded outcome, not a crash
            logger.warning("could not send %s to %s: %s", message.purpose, message.channel, error)
            code = getattr(error, "code", None)
            retry_at = await asyncio.to_thread(self._retry_at, message, error, now)
            decision = Decision("failed", f"provider_error:{code or type(error).__name__}", retry_at,
                                channel=message.channel, address=message.address)
        else:
            decision = Decision("sent", ready.reason, provider_ids=ids, channel=message.channel,
                                address=message.address)
        await asyncio.to_thread(self._record, message, decision, ready.body, now)
        return decision

    # --- messages other parts of the product send ------------------------------------------

    async def remind(self, account_ref: str, channel: Optional[str] = None, *, message_key: Optional[str] = None,
                     at: Optional[datetime] = None) -> Decision:
        """A payment reminder for the account: a neutral message with the consumer's personal link.

        Its key makes it once a day (the consumer's day); a delayed reminder sent later keeps its key.
        """
        statement = await asyncio.to_thread(self.ledger.statement, account_ref)
        consumer = statement.consumer
        arguments = {"first_name": consumer.first_name}
        if self.link_for is not None:
            arguments["link"] = self.link_for(statement.account_ref, consumer.language)
        local_day = (at or self._clock()).astimezone(_zone_or_utc(consumer.timezone)).date().isoformat()
        return await self.notify(
            statement, "payment_reminder", "utter_payment_reminder", arguments, channel=channel,
            message_key=message_key or f"payment_reminder:{statement.account_ref}:{local_day}", at=at,
        )

    async def send_delayed(self, at: Optional[datetime] = None) -> List[Decision]:
        """Send again the reminders that quiet hours or the weekly cap delayed, once their time came.

        The queue is the outbound record itself: a message key whose latest attempt is `delayed` with
        `not_before` passed. Each try is decided afresh (an opt-out since then suppresses it) and
        recorded; one delayed again stays queued.
        """
        now = at or self._clock()
        due = await asyncio.to_thread(self.messaging.delayed_due, now, REQUEUED_PURPOSES)
        decisions = []
        for record in due:
            decision = await self.remind(record.account_ref, record.channel, message_key=record.message_key, at=now)
            logger.info("delayed %s %s (%s since %s): now %s (%s)", record.purpose, record.message_key,
                        record.reason, record.attempted_at.isoformat(), decision.status, decision.reason)
            decisions.append(decision)
        return decisions

    async def notify(
        self,
        account: Union[str, Statement],
        purpose: str,
        response: str,
        arguments: Optional[Mapping[str, str]] = None,
        *,
        channel: Optional[str] = None,
        message_key: Optional[str] = None,
        at: Optional[datetime] = None,
    ) -> Decision:
        """A message about an account to its consumer, on the phone channel they last used (else SMS)."""
        statement = account if isinstance(account, Statement) else await asyncio.to_thread(
            self.ledger.statement, account)
        phone = statement.consumer.phone
        if channel is None:
            channel = await asyncio.to_thread(self.messaging.last_phone_channel, phone) or "sms"
        address = f"whatsapp:{phone}" if channel == "whatsapp" else phone
        return await self.send(OutboundMessage(
            purpose=purpose, response=response, channel=channel, address=address,
            arguments=dict(arguments or {}), consumer_id=statement.consumer.id,
            account_ref=statement.account_ref, message_key=message_key,
        ), at=at)

    async def agent_reply(self, channel: str, address: str, text: str, account_ref: Optional[str] = None,
                          consumer_id: Optional[int] = None) -> Decision:
        """An agent's words to a consumer who is no longer in a live chat (the agent console)."""
        if consumer_id is None and account_ref:
            consumer_id = (await asyncio.to_thread(self.ledger.statement, account_ref)).consumer.id
        return await self.send(OutboundMessage(
            purpose="agent_reply", response="utter_agent_message", channel=channel, address=address,
            arguments={"message": text}, consumer_id=consumer_id, account_ref=account_ref,
        ))

    # --- deciding ----------------------------------------------------------------------------

    def _decide(self, message: OutboundMessage, now: datetime, text: Optional[str] = None) -> Union[Decision, _Ready]:
        purpose = PURPOSES[message.purpose]
        consumer = self.ledger.consumer(message.consumer_id) if message.consumer_id is not None else None
        statement = self.ledger.statement(message.account_ref) if message.account_ref else None
        language = message.language or (consumer.language if consumer else None) or "en"
        body = self._render(message, purpose, statement, language, text)

        def stop(status: str, reason: str, not_before: Optional[datetime] = None) -> Decision:
            decision = Decision(status, reason, not_before, channel=message.channel, address=message.address)
            self._record(message, decision, body, now)
            return decision

        sender = self.senders.get(message.channel)
        if sender is None:
            return stop("suppressed", "channel_not_configured")
        if message.message_key and self.messaging.was_sent(message.message_key):
            return stop("suppressed", "duplicate")
        if self.ledger.consent(message.channel, message.address) is False:
            return stop("suppressed", "opted_out")
        if statement is not None and purpose.discusses_account and not statement.creditor.allows_channel(
                message.channel):
            return stop("suppressed", "channel_not_allowed")
        if statement is not None and purpose.collection:
            refusal = _collection_refusal(statement)
            if refusal:
                return stop("suppressed", refusal)
        if purpose.proactive:
            zone = consumer.timezone if consumer else None
            if not allowed(now, zone, self.possible_zones):
                return stop("delayed", "quiet_hours", next_allowed(now, zone, self.possible_zones))
            if consumer is not None and purpose.capped:
                recent = self.messaging.sent_proactive_since(consumer.id, now - CAP_PERIOD, CAPPED_PURPOSES)
                if len(recent) >= self.weekly_cap:
                    free = recent[len(recent) - self.weekly_cap] + CAP_PERIOD
                    return stop("delayed", "weekly_cap", next_allowed(free, zone, self.possible_zones))
        reason = "allowed" if purpose.proactive else "requested"
        if message.channel == "whatsapp":
            last = self.messaging.last_inbound("whatsapp", message.address)
            if last is None or now - last >= WHATSAPP_WINDOW:
                template = self.config.template_for(message.response, language)
                if template is None:
                    return stop("suppressed", "whatsapp_window_closed")
                variables = template.content_variables(message.arguments)
                record = f"template {template.content_sid} {json.dumps(variables, ensure_ascii=False)}"
                return _Ready(sender, record, template=template, variables=variables, reason="allowed_template")
        if message.channel == "email":
            if not message.subject:
                raise ValueError(f"an email needs a subject response: {message.response}")
            subject = self.catalogs.render(message.subject, language, "email")["text"]
            return _Ready(sender, body, subject=subject, reason=reason)
        return _Ready(sender, body, reason=reason)

    def _render(self, message: OutboundMessage, purpose: Purpose, statement: Optional[Statement],
                language: str, text: Optional[str] = None) -> str:
        channel = message.channel
        parts = []
        if statement is not None and purpose.discusses_account and statement.creditor.is_agency:
            parts.append(self.catalogs.render("utter_debt_collector_disclosure", language, channel)["text"])
        if text is None:
            text = self.catalogs.render(message.response, language, channel, dict(message.arguments))["text"]
        parts.append(text)
        opt_out = self.catalogs.render("utter_opt_out_line", language, channel)["text"] if purpose.proactive else ""
        if opt_out not in text:  # a response that carries the line already (a WhatsApp template) keeps one copy
            parts.append(opt_out)
        return "\n".join(part for part in parts if part)

    # --- sending and recording ---------------------------------------------------------------

    async def _deliver(self, message: OutboundMessage, ready: _Ready) -> Tuple[str, ...]:
        if ready.template is not None:
            return (await ready.sender.send_content(message.address, ready.template.content_sid, ready.variables),)
        if message.channel == "email":
            return (await ready.sender.send_email(message.address, ready.subject, ready.body),)
        if message.channel == "sms":
            parts = split_sms(ready.body, self.sms_max_segments)
        else:
            parts = split_by_characters(ready.body, WHATSAPP_BODY_LIMIT)
        ids = []
        for part in parts:
            ids.append(await ready.sender.send_text(message.address, part))
        return tuple(ids)

    def _retry_at(self, message: OutboundMessage, error: Exception, now: datetime) -> Optional[datetime]:
        """When a failed reminder is tried again (send_delayed), if it is: the provider was down or slow
        (5xx, 429, no answer), not refusing this message, and it has failed fewer than MAX_SEND_FAILURES times."""
        status = getattr(error, "status", None)
        if message.purpose not in REQUEUED_PURPOSES or not message.message_key:
            return None
        if status is not None and status not in (429,) and status < 500:
            return None  # Twilio refused this message (unsubscribed, invalid number): trying again changes nothing
        if self.messaging.failures(message.message_key) + 1 >= MAX_SEND_FAILURES:
            return None
        return now + FAILED_RETRY_AFTER

    def _record(self, message: OutboundMessage, decision: Decision, body: str, now: datetime) -> None:
        for value in message.masked:
            if value:
                body = body.replace(value, MASK)
        self.messaging.log_attempt(OutboundRecord(
            purpose=message.purpose, proactive=PURPOSES[message.purpose].proactive, channel=message.channel,
            address=message.address, response=message.response, status=decision.status,
            reason=decision.reason, body=body, attempted_at=now, consumer_id=message.consumer_id,
            account_ref=message.account_ref, message_key=message.message_key,
            not_before=decision.not_before,
            provider_id=decision.provider_ids[0] if decision.provider_ids else None,
        ))


def _collection_refusal(statement: Statement) -> Optional[str]:
    """Why no collection message may go out for the account now, if any."""
    stopped = [flag for flag in statement.flags if flag in STOP_FLAGS]
    if stopped:
        return f"collection_stopped:{stopped[0]}"
    if not statement.is_open or statement.balance.minor <= 0:
        return "nothing_due"
    if statement.holds:  # a dispute under review, of all or part of the balance: no reminders until resolved
        return "on_hold"
    return None


def _zone_or_utc(name: Optional[str]):
    try:
        return ZoneInfo(name) if name else timezone.utc
    except Exception:
        return timezone.utc
