"""The SMS and WhatsApp channels as Rasa serves them: on the Sanic app `configure_app` builds, on a real port.

Webhooks are signed with twilio's own RequestValidator for the public URL (the server itself listens
on 127.0.0.1, as behind a proxy); replies go out through twilio-python's real async client, whose
HTTP transport records them instead of reaching Twilio.
"""
from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.run import configure_app
from sanic import Sanic
from sqlalchemy import func, select

from bot.adapters.twilio_sender import TwilioSender
from bot.bootstrap import make_engine
from bot.domain.segments import segment_count
from bot.ledger.messaging import SqlMessaging
from bot.ledger.migrations import upgrade
from bot.ledger.schema_messaging import inbound_messages
from bot.messaging_config import MessagingConfig
from channels.twilio import SmsInput, WhatsAppInput
from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, RecordingTransport, free_port, inbound_sms, sign, signed_post

PUBLIC_URL = "https://chat.example.com"
SMS_PATH = "/webhooks/sms/webhook"
WHATSAPP_PATH = "/webhooks/whatsapp/webhook"
OUR_NUMBER = "+15005550006"
CONSUMER = "+14155550101"
CLIENTS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="twilio-test-client")
MENU = {"text": "How can I help?", "buttons": [
    {"title": "What do I owe?", "payload": "/ask_balance"},
    {"title": "What is it for?", "payload": "/ask_balance_details"},
    {"title": "Who is it owed to?", "payload": "/ask_creditor"},
]}


class ScriptedAgent:
    """Stands in for Rasa's agent: records each message and answers with `script(message)`."""

    def __init__(self, script: Callable[[UserMessage], List[dict]]) -> None:
        self.script = script
        self.received: List[UserMessage] = []
        self.gate: Optional[asyncio.Event] = None  # a turn waits for it: a slow model or action

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.gate is not None:
            await self.gate.wait()
        for reply in self.script(message):
            await message.output_channel.send_response(message.sender_id, dict(reply))


def echo(message: UserMessage) -> List[dict]:
    return [{"text": f"echo: {message.text}"}]


class Served:
    def __init__(self, channel, agent, transport, messaging, port) -> None:
        self.channel, self.agent, self.transport, self.messaging, self.port = channel, agent, transport, messaging, port

    async def post(self, params, path=SMS_PATH, **kwargs):
        # Posts block: they get threads of their own, so the server keeps the loop's default pool.
        return await asyncio.get_running_loop().run_in_executor(
            CLIENTS, lambda: signed_post(self.port, path, params, PUBLIC_URL, **kwargs))

    def texts(self) -> List[str]:
        return [message.text for message in self.agent.received]


@pytest.fixture
def messaging(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    yield SqlMessaging(engine)
    engine.dispose()


@contextlib.asynccontextmanager
async def serve(channel_class=SmsInput, script=echo, messaging=None, auth_token=AUTH_TOKEN, max_segments=3,
                config=MessagingConfig()):
    transport = RecordingTransport()
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, channel_class.channel, http_client=transport)
    channel = channel_class(auth_token, PUBLIC_URL, sender=sender, messaging=messaging, config=config,
                            max_segments=max_segments)
    Sanic.test_mode = True
    app = configure_app([channel], enable_api=False, port=free_port())
    agent = ScriptedAgent(script)
    app.ctx.agent = agent
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        yield Served(channel, agent, transport, messaging, port)
    finally:
        await channel.wait_for_turns()
        server.close()
        await server.wait_closed()


def seen_message_ids(messaging) -> int:
    with messaging.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(inbound_messages)).scalar_one()


async def test_a_signed_message_is_answered_through_twilio(messaging):
    async with serve(messaging=messaging) as served:
        status, body = await served.post(inbound_sms(CONSUMER, "how much do i owe", "SM1"))
        await served.channel.wait_for_turns()
    assert status == 200 and "<Response>" in body  # empty TwiML: the replies go out through the API
    assert served.texts() == ["how much do i owe"]
    assert served.agent.received[0].input_channel == "sms" and served.agent.received[0].sender_id == CONSUMER
    [sent] = served.transport.sent
    assert (sent.to, sent.from_, sent.body) == (CONSUMER, OUR_NUMBER, "echo: how much do i owe")
    assert sent.url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)


@pytest.mark.parametrize(
    "case",
    [
        "tampered body",  # signed for one message, another one posted
        "missing header",
        "wrong url",  # signed for another host's webhook
        "other path",  # signed for the WhatsApp webhook, posted to the SMS one
        "wrong token",
    ],
)
async def test_an_unverifiable_request_gets_403_and_changes_nothing(messaging, case):
    params = inbound_sms(CONSUMER, "hello", "SM2")
    signature = {
        "tampered body": sign(PUBLIC_URL + SMS_PATH, {**params, "Body": "something else"}),
        "missing header": "",
        "wrong url": sign("https://evil.example.com" + SMS_PATH, params),
        "other path": sign(PUBLIC_URL + WHATSAPP_PATH, params),
        "wrong token": sign(PUBLIC_URL + SMS_PATH, params, token="not-the-token"),
    }[case]
    async with serve(messaging=messaging) as served:
        status, _ = await served.post(params, signature=signature)
    assert status == 403
    assert served.texts() == [] and served.transport.sent == []
    assert seen_message_ids(messaging) == 0


async def test_without_an_auth_token_every_webhook_is_refused(messaging):
    async with serve(messaging=messaging, auth_token=None) as served:
        status, _ = await served.post(inbound_sms(CONSUMER, "hello", "SM3"))
    assert status == 403 and served.texts() == []


async def test_a_query_string_is_part_of_what_twilio_signs(messaging):
    params = inbound_sms(CONSUMER, "hello", "SM4")
    async with serve(messaging=messaging) as served:
        status, _ = await served.post(params, path=SMS_PATH + "?region=us1",
                                      signature=sign(PUBLIC_URL + SMS_PATH + "?region=us1", params))
        await served.channel.wait_for_turns()
    assert status == 200 and served.texts() == ["hello"]


async def test_a_retried_message_sid_is_processed_once(messaging):
    params = inbound_sms(CONSUMER, "hello", "SM5")
    async with serve(messaging=messaging) as served:
        first = await served.post(params)
        retry = await served.post(params)
        await served.channel.wait_for_turns()
    assert first[0] == retry[0] == 200  # Twilio stops retrying once it gets a 200
    assert served.texts() == ["hello"] and len(served.transport.sent) == 1


async def test_retries_arriving_at_the_same_moment_are_processed_once(messaging):
    params = inbound_sms(CONSUMER, "hello", "SM6")
    async with serve(messaging=messaging) as served:
        statuses = await asyncio.gather(*(served.post(params) for _ in range(8)))
        await served.channel.wait_for_turns()
    assert [status for status, _ in statuses] == [200] * 8
    assert served.texts() == ["hello"] and len(served.transport.sent) == 1


async def test_the_webhook_is_acknowledged_before_a_slow_turn_finishes(messaging):
    async with serve(messaging=messaging) as served:
        served.agent.gate = asyncio.Event()  # the turn cannot finish until we say so
        status, _ = await served.post(inbound_sms(CONSUMER, "hello", "SM7"))
        acknowledged_with_nothing_sent = status == 200 and served.transport.sent == []
        served.agent.gate.set()
        await served.channel.wait_for_turns()
    assert acknowledged_with_nothing_sent
    assert served.transport.bodies() == ["echo: hello"]  # the reply followed the acknowledgement


async def test_buttons_become_numbered_choices_answered_by_number(messaging):
    def menu_then_echo(message):
        return [MENU] if message.text == "hi" else echo(message)

    async with serve(messaging=messaging, script=menu_then_echo) as served:
        await served.post(inbound_sms(CONSUMER, "hi", "SM8"))
        await served.channel.wait_for_turns()
        await served.post(inbound_sms(CONSUMER, "2", "SM9"))
        await served.channel.wait_for_turns()
    assert served.transport.bodies()[0] == (
        "How can I help?\n1. What do I owe?\n2. What is it for?\n3. Who is it owed to?")
    assert served.texts() == ["hi", "/ask_balance_details"]
    assert served.agent.received[1].metadata["choice"] == 2


async def test_long_replies_split_at_sentence_ends_within_the_segment_limit(messaging):
    long_reply = " ".join(f"Line item {n} is an invoice for design work in March." for n in range(1, 9))

    async with serve(messaging=messaging, max_segments=1,
                     script=lambda m: [{"text": "Here is what makes up your balance:"}, {"text": long_reply}]) as served:
        await served.post(inbound_sms(CONSUMER, "what is it for", "SM10"))
        await served.channel.wait_for_turns()
    bodies = served.transport.bodies(CONSUMER)
    assert len(bodies) > 1 and all(segment_count(body) == 1 for body in bodies)
    assert " ".join(bodies).replace("\n", " ") == f"Here is what makes up your balance: {long_reply}"


@pytest.mark.parametrize(
    "body, expected",
    [
        ("STOP", "/opt_out"),
        ("stop texting me", "/opt_out"),
        ("ALTO", "/opt_out"),
        ("START", "/opt_in"),
        ("HELP", "/help"),
        ("AGENTE", "/request_human"),
    ],
)
async def test_keywords_reach_rasa_as_intents(messaging, body, expected):
    async with serve(messaging=messaging) as served:
        await served.post(inbound_sms(CONSUMER, body, f"SM-{body}"))
        await served.channel.wait_for_turns()
    assert served.texts() == [expected]


async def test_a_picture_without_words_reaches_rasa_as_media(messaging):
    params = inbound_sms(CONSUMER, "", "SM11", NumMedia="1", MediaUrl0="https://api.twilio.com/media/ME1",
                         MediaContentType0="image/jpeg")
    async with serve(messaging=messaging) as served:
        await served.post(params)
        await served.channel.wait_for_turns()
    assert served.texts() == ["/EXTERNAL_media_shared"]


async def test_a_card_number_never_reaches_rasa(messaging):
    async with serve(messaging=messaging) as served:
        await served.post(inbound_sms(CONSUMER, "pay with 4242 4242 4242 4242", "SM12"))
        await served.channel.wait_for_turns()
    assert served.texts() == ["/EXTERNAL_card_number_shared"]


WHATSAPP_CONSUMER = "whatsapp:" + CONSUMER


async def test_whatsapp_quick_replies_use_the_configured_template(messaging):
    config = MessagingConfig(quick_replies={3: "HX" + "1" * 32})

    def menu_then_echo(message):
        return [MENU] if message.text == "hi" else echo(message)

    async with serve(WhatsAppInput, messaging=messaging, script=menu_then_echo, config=config) as served:
        status, _ = await served.post(inbound_sms(WHATSAPP_CONSUMER, "hi", "SM13"), path=WHATSAPP_PATH)
        await served.channel.wait_for_turns()
        # Tapping the third button: Twilio posts the button's id and text.
        await served.post(inbound_sms(WHATSAPP_CONSUMER, "Who is it owed to?", "SM14", ButtonPayload="3",
                                      ButtonText="Who is it owed to?"), path=WHATSAPP_PATH)
        await served.channel.wait_for_turns()
    assert status == 200
    first = served.transport.sent[0]
    assert (first.to, first.from_) == (WHATSAPP_CONSUMER, "whatsapp:" + OUR_NUMBER)
    assert first.content_sid == "HX" + "1" * 32 and first.body is None
    assert first.content_variables == {"1": "How can I help?", "2": "What do I owe?", "3": "What is it for?",
                                       "4": "Who is it owed to?"}
    assert served.texts() == ["hi", "/ask_creditor"]


async def test_whatsapp_without_a_quick_reply_template_numbers_the_choices(messaging):
    async with serve(WhatsAppInput, messaging=messaging, script=lambda m: [MENU]) as served:
        await served.post(inbound_sms(WHATSAPP_CONSUMER, "hi", "SM15"), path=WHATSAPP_PATH)
        await served.channel.wait_for_turns()
    [sent] = served.transport.sent
    assert sent.content_sid is None and sent.body.endswith("3. Who is it owed to?")


async def test_sms_and_whatsapp_message_ids_do_not_collide(messaging):
    async with serve(messaging=messaging) as served:
        await served.post(inbound_sms(CONSUMER, "hello", "SM16"))
        await served.channel.wait_for_turns()
    assert messaging.claim_inbound("whatsapp", "SM16", WHATSAPP_CONSUMER, messaging_now())
    assert not messaging.claim_inbound("sms", "SM16", CONSUMER, messaging_now())


def messaging_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_channels_keep_the_contract_names_and_paths():
    assert SmsInput.name() == "sms" and WhatsAppInput.name() == "whatsapp"
    assert SmsInput(None, PUBLIC_URL + "/").webhook_url == PUBLIC_URL + SMS_PATH
    assert WhatsAppInput(None, PUBLIC_URL).webhook_url == PUBLIC_URL + WHATSAPP_PATH
