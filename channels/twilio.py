"""SMS and WhatsApp through Twilio: Rasa input channels `sms` and `whatsapp`.

Each webhook (`/webhooks/sms/webhook`, `/webhooks/whatsapp/webhook`):

1. verifies `X-Twilio-Signature` with twilio's RequestValidator against the public URL
   (PUBLIC_URL + path: behind a proxy `request.url` differs); anything unverifiable, including
   every request when no auth token is configured, gets 403 and changes nothing;
2. records Twilio's `MessageSid` once (a unique key in the ledger), so a retry is acknowledged and
   dropped, even when the retries arrive together;
3. answers Twilio at once with empty TwiML (Twilio gives up after 15 seconds and retries), then
   runs the turn in the background and sends the replies with the async Twilio client.

Replies are packed into as few messages as fit and split at sentence ends within the SMS segment
limit; buttons become numbered choices the consumer answers with the number (WhatsApp quick-reply
buttons when a quick-reply template is configured).
"""
from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Set, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot.domain.choices import numbered
from bot.adapters.tracker_store import guard_turns
from bot.domain.inbound import prepare_inbound
from bot.domain.segments import fits_sms, split_by_characters, split_sms
from bot.messaging_config import MessagingConfig

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
CHOICES_VALID_FOR = timedelta(hours=24)
WHATSAPP_BODY_LIMIT = 1600
WHATSAPP_QUICK_REPLY_BODY_LIMIT = 1024

# What to send: ("text", body) or ("content", content_sid, variables).
Outgoing = Tuple[Any, ...]


class TurnCollector(CollectingOutputChannel):
    """Collects a turn's replies; named after the channel so the NLG picks its `channel:` variations."""

    def __init__(self, channel: str) -> None:
        super().__init__()
        self._channel = channel

    def name(self) -> Text:  # type: ignore[override]
        return self._channel


def twilio_params(request: Request) -> RequestParameters:
    """The POST parameters as Twilio signed them: blank ones too (Sanic's `request.form` drops
    them, and a media-only message has an empty Body that is part of the signature)."""
    params = getattr(request.ctx, "twilio_params", None)
    if params is None:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            body = ""
        params = request.ctx.twilio_params = RequestParameters(parse_qs(body, keep_blank_values=True))
    return params


def _buttons(message: Dict[str, Any]) -> List[Dict[str, str]]:
    found = message.get("buttons") or message.get("quick_replies") or []
    return [{"title": str(b.get("title") or b.get("payload")), "payload": str(b.get("payload") or b.get("title"))}
            for b in found if b.get("title") or b.get("payload")]


def _blocks(message: Dict[str, Any]) -> List[str]:
    """The text pieces of one Rasa message: its text, each numbered choice, an image link."""
    blocks = [str(message["text"]).strip()] if message.get("text") else []
    titles = [button["title"] for button in _buttons(message)]
    if titles:
        blocks += numbered(titles).splitlines()
    if message.get("image"):
        blocks.append(str(message["image"]))
    return [block for block in blocks if block]


def pack(blocks: Iterable[str], fits: Callable[[str], bool], split: Callable[[str], List[str]]) -> List[str]:
    """Blocks joined line by line into as few messages as fit; a block too long alone is split."""
    messages: List[str] = []
    for block in blocks:
        for piece in ([block] if fits(block) else split(block)):
            if messages and fits(f"{messages[-1]}\n{piece}"):
                messages[-1] = f"{messages[-1]}\n{piece}"
            else:
                messages.append(piece)
    return messages


def offered_choices(messages: Sequence[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The choices a turn leaves the consumer with: the buttons of its last message that had any."""
    for message in reversed(messages):
        buttons = _buttons(message)
        if buttons:
            return buttons
    return []


def compose_sms(messages: Sequence[Dict[str, Any]], max_segments: int) -> List[Outgoing]:
    blocks = [block for message in messages for block in _blocks(message)]
    parts = pack(blocks, lambda text: fits_sms(text, max_segments), lambda text: split_sms(text, max_segments))
    return [("text", part) for part in parts]


def compose_whatsapp(messages: Sequence[Dict[str, Any]], config: MessagingConfig) -> List[Outgoing]:
    """Text packed up to WhatsApp's body limit; buttons as quick replies when a template allows."""
    outgoing: List[Outgoing] = []
    pending: List[str] = []

    def flush() -> None:
        fits = lambda text: len(text) <= WHATSAPP_BODY_LIMIT  # noqa: E731
        outgoing.extend(("text", part) for part in pack(
            pending, fits, lambda text: split_by_characters(text, WHATSAPP_BODY_LIMIT)))
        pending.clear()

    for message in messages:
        buttons = _buttons(message)
        text = str(message.get("text") or "").strip()
        content_sid = config.quick_reply_sid([b["title"] for b in buttons]) if buttons else None
        if content_sid and text and len(text) <= WHATSAPP_QUICK_REPLY_BODY_LIMIT:
            flush()
            variables = {"1": text, **{str(n): b["title"] for n, b in enumerate(buttons, start=2)}}
            outgoing.append(("content", content_sid, variables))
            if message.get("image"):
                pending.append(str(message["image"]))
        else:
            pending.extend(_blocks(message))
    flush()
    return outgoing


class TwilioInput(InputChannel):
    """Base of the two Twilio channels; subclasses only name themselves."""

    channel = "sms"

    @classmethod
    def name(cls) -> Text:
        return cls.channel

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Secrets come from the environment (bot.bootstrap.settings), never from credentials.yml."""
        from bot import bootstrap

        settings = bootstrap.settings()
        credentials = credentials or {}
        public_url = credentials.get("public_url") or settings.public_backend_url
        if not settings.twilio_auth_token:
            logger.warning("%s channel: TWILIO_AUTH_TOKEN is not set, so every webhook is refused (403).",
                           cls.channel)
            return cls(None, public_url)
        return cls(
            settings.twilio_auth_token,
            public_url,
            sender=bootstrap.twilio_sender(cls.channel),
            messaging=bootstrap.messaging(),
            config=bootstrap.messaging_config(),
            max_segments=settings.sms_max_segments,
            outbound=bootstrap.outbound(),
        )

    def __init__(
        self,
        auth_token: Optional[str],
        public_url: str,
        sender=None,
        messaging=None,
        config: MessagingConfig = MessagingConfig(),
        max_segments: int = 3,
        clock: Optional[Callable[[], datetime]] = None,
        outbound=None,
    ) -> None:
        self.outbound = outbound
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.webhook_url = f"{public_url.rstrip('/')}/webhooks/{self.name()}/webhook"
        self.sender = sender
        self.messaging = messaging
        self.config = config
        self.max_segments = max_segments
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._turns: Set[asyncio.Task] = set()

    # --- receiving -----------------------------------------------------------------------------

    def verified(self, request: Request) -> bool:
        """Twilio's signature over the public URL (with any query string) and the POST parameters."""
        signature = request.headers.get("X-Twilio-Signature")
        if self.validator is None or not signature:
            return False
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return False
        url = self.webhook_url + (f"?{request.query_string}" if request.query_string else "")
        return self.validator.validate(url, twilio_params(request), signature)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint(f"{self.name()}_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.verified(request):
                logger.warning("%s webhook: refused a request without a valid Twilio signature", self.name())
                return response.text("Forbidden", status=403)
            params = twilio_params(request)
            form = {name: params.get(name) for name in params}
            sid = form.get("MessageSid") or form.get("SmsMessageSid")
            sender = form.get("From")
            if sid and sender and await asyncio.to_thread(
                    self.messaging.claim_inbound, self.name(), sid, sender, self._clock()):
                self._run_in_background(self._turn(guard_turns(on_new_message), form, sid, sender))
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return blueprint

    async def wait_for_turns(self) -> None:
        """Until every turn in flight has sent its replies (tests; a graceful stop)."""
        while self._turns:
            await asyncio.gather(*list(self._turns), return_exceptions=True)

    def _run_in_background(self, work: Awaitable[Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._turns.add(task)
        task.add_done_callback(self._turn_done)

    def _turn_done(self, task: asyncio.Task) -> None:
        self._turns.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: a turn failed", self.name(), exc_info=task.exception())

    async def _turn(self, on_new_message, form: Dict[str, str], sid: str, sender: str) -> None:
        now = self._clock()
        choices = await asyncio.to_thread(self.messaging.choices, self.name(), sender, now - CHOICES_VALID_FOR)
        has_media = str(form.get("NumMedia") or "0").strip() not in ("", "0")
        inbound = prepare_inbound(form.get("Body") or "", choices=choices,
                                  button_payload=form.get("ButtonPayload"), has_media=has_media)
        collector = TurnCollector(self.name())
        metadata = {"message_sid": sid, **inbound.metadata}
        await on_new_message(UserMessage(inbound.text, collector, sender, input_channel=self.name(),
                                         message_id=sid, metadata=metadata))
        await self.deliver(sender, collector.messages)

    # --- sending -------------------------------------------------------------------------------

    def compose(self, messages: Sequence[Dict[str, Any]]) -> List[Outgoing]:
        return compose_sms(messages, self.max_segments)

    async def deliver(self, recipient: str, messages: Sequence[Dict[str, Any]]) -> None:
        """Send a turn's replies in order; remember its choices so "2" can answer them."""
        if not messages:
            return
        await asyncio.to_thread(self.messaging.offer_choices, self.name(), recipient, offered_choices(messages),
                                self._clock())
        await send_all(self.sender, recipient, self.compose(messages), self.name())

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For Rasa's HTTP API (trigger_intent with this channel as output): through the outbound service."""
        if self.outbound is None:
            return None
        return TwilioOutput(self)

    async def deliver_proactive(self, recipient: str, message: Dict[str, Any]) -> None:
        """A message Rasa utters outside a turn: consent, quiet hours and the opt-out line apply.

        Raises OutboundDelayed when it may not go out now, so the caller (the payments outbox)
        keeps it and tries again later; a suppressed message is recorded and dropped.
        """
        from bot.services.outbound import OutboundMessage

        consumer = await asyncio.to_thread(self.outbound.ledger.consumer_by_phone, recipient)
        decision = await self.outbound.send(
            OutboundMessage(purpose="conversation_update", response="rasa_nlg", channel=self.name(),
                            address=recipient, consumer_id=consumer.id if consumer else None),
            text="\n".join(_blocks(message)),
        )
        if decision.sent:
            await asyncio.to_thread(self.messaging.offer_choices, self.name(), recipient, _buttons(message),
                                    self._clock())
        if decision.status == "delayed":
            raise OutboundDelayed(f"{self.name()} message to {recipient} not before {decision.not_before}")


async def send_all(sender, recipient: str, outgoing: Sequence[Outgoing], channel: str) -> None:
    if sender is None:
        logger.error("%s: no Twilio sender configured; %d message(s) to %s dropped", channel, len(outgoing),
                     recipient)
        return
    for item in outgoing:
        try:
            if item[0] == "content":
                await sender.send_content(recipient, item[1], item[2])
            else:
                await sender.send_text(recipient, item[1])
        except Exception:  # one refused message must not lose the rest of the turn
            logger.exception("%s: Twilio refused a message to %s", channel, recipient)


class SmsInput(TwilioInput):
    channel = "sms"


class WhatsAppInput(TwilioInput):
    channel = "whatsapp"

    def compose(self, messages: Sequence[Dict[str, Any]]) -> List[Outgoing]:
        return compose_whatsapp(messages, self.config)


class OutboundDelayed(RuntimeError):
    """A proactive message may not go out yet (quiet hours); whoever triggered it tries again later."""


class TwilioOutput(CollectingOutputChannel):
    """Rasa's proactive door to SMS/WhatsApp: each response goes through the outbound service."""

    def __init__(self, channel: TwilioInput) -> None:
        super().__init__()
        self._input = channel

    def name(self) -> Text:  # type: ignore[override]
        return self._input.name()

    async def _persist_message(self, message: Dict[str, Any]) -> None:
        await super()._persist_message(message)
        await self._input.deliver_proactive(message["recipient_id"], message)
