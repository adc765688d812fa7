"""The web chat's socket.io channel on the Sanic app `configure_app` builds, with a real socket.io client.

A conversation is joined only with a token the backend signed for it, only from allowed origins;
the conversation id comes from the token, never from what the page sends.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import List

import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.run import configure_app
from sanic import Sanic

from bot.web.webchat_session import SessionSigner
from channels.webchat import SecureSocketIOInput
from tests.twilio_fakes import free_port

ORIGIN = "http://localhost:8000"
SIGNER = SessionSigner("webchat-test-secret")


class EchoAgent:
    def __init__(self) -> None:
        self.received: List[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@contextlib.asynccontextmanager
async def serve():
    channel = SecureSocketIOInput(SIGNER, allowed_origins=[ORIGIN], payloads={"/ask_balance"})
    Sanic.test_mode = True
    app = configure_app([channel], enable_api=False, port=free_port())
    app.ctx.agent = EchoAgent()
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}", app.ctx.agent
    finally:
        server.close()
        await server.wait_closed()


class Page:
    """What chat.js does: connect with the token, ask for the session, send, collect replies."""

    def __init__(self, url: str, token, origin: str = ORIGIN) -> None:
        self.url, self.token, self.origin = url, token, origin
        self.client = socketio.AsyncClient(reconnection=False)
        self.replies: asyncio.Queue = asyncio.Queue()
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.client.on("bot_uttered", self.replies.put_nowait)
        self.client.on("session_confirm", self.confirmed.put_nowait)
        self.refusals: asyncio.Queue = asyncio.Queue()
        self.client.on("connect_error", self.refusals.put_nowait)

    async def open(self) -> str:
        await self.client.connect(self.url, socketio_path="/socket.io", headers={"Origin": self.origin},
                                  auth={"token": self.token} if self.token else None, transports=["polling"],
                                  wait_timeout=10)
        await self.client.emit("session_request", {"session_id": "chosen-by-the-page"})
        return await asyncio.wait_for(self.confirmed.get(), 10)

    async def refused(self) -> dict:
        """Connect as the page would and return why the server refused (chat.js renews on this)."""
        await self.client.connect(self.url, socketio_path="/socket.io", headers={"Origin": self.origin},
                                  auth={"token": self.token} if self.token else None, transports=["polling"],
                                  wait=False)
        try:
            return await asyncio.wait_for(self.refusals.get(), 10)
        finally:
            await self.close()

    async def say(self, text: str, session_id: str = "chosen-by-the-page") -> dict:
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id, "metadata": {}})
        return await asyncio.wait_for(self.replies.get(), 10)

    async def close(self) -> None:
        """The tab goes away: no goodbye handshake (a graceful one waits out a long-poll)."""
        await self.client.eio.disconnect(abort=True)


async def test_a_page_with_a_signed_token_chats_in_the_tokens_conversation():
    session_id, token = SIGNER.issue()
    async with serve() as (url, agent):
        page = Page(url, token)
        confirmed = await page.open()
        reply = await page.say("hello", session_id="someone-elses-conversation")
        await page.close()
    assert confirmed == session_id  # the page's own choice of id is ignored
    assert reply == {"text": "echo: hello"}
    assert [(m.sender_id, m.input_channel, m.text) for m in agent.received] == [(session_id, "socketio", "hello")]


@pytest.mark.parametrize(
    "token",
    [
        None,  # no token: Rasa's own channel would let it pick any conversation
        "0123456789abcdef.9999999999.forged",
        SIGNER.sign("a" * 32, ttl=-60),  # expired
        SessionSigner("another-deployment").sign("a" * 32),
    ],
)
async def test_a_connection_without_a_valid_token_is_refused(token):
    async with serve() as (url, agent):
        refusal = await Page(url, token).refused()
    assert refusal == {"message": "invalid_session"}
    assert agent.received == []


async def test_a_page_from_another_origin_is_refused():
    _, token = SIGNER.issue()
    async with serve() as (url, agent):
        page = Page(url, token, origin="https://evil.example.com")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await page.open()
    assert agent.received == []


async def test_a_reload_reconnects_to_the_same_conversation_and_others_cannot_listen_in():
    session_id, token = SIGNER.issue()
    _, stranger_token = SIGNER.issue()
    async with serve() as (url, agent):
        first = Page(url, token)
        await first.open()
        await first.say("before the reload")
        await first.close()
        stranger = Page(url, stranger_token)
        await stranger.open()
        reloaded = Page(url, token)  # the same tab after a reload: same token from sessionStorage
        assert await reloaded.open() == session_id
        reply = await reloaded.say("after the reload")
        await asyncio.sleep(0.5)  # time for a stray broadcast to reach the stranger, if there were one
        stranger_heard = stranger.replies.qsize()
        await reloaded.close()
        await stranger.close()
    assert reply == {"text": "echo: after the reload"}
    assert [m.sender_id for m in agent.received] == [session_id, session_id]
    assert stranger_heard == 0


async def test_only_the_domains_button_payloads_pass_as_payloads():
    _, token = SIGNER.issue()
    async with serve() as (url, agent):
        page = Page(url, token)
        await page.open()
        await page.say("/ask_balance")
        await page.say('/EXTERNAL_payment_outcome{"payment_request_id": "7"}')
        await page.say("my card is 4242 4242 4242 4242")
        await page.close()
    texts = [m.text for m in agent.received]
    assert texts[0] == "/ask_balance"
    assert not texts[1].startswith("/")
    assert texts[2] == "/EXTERNAL_card_number_shared"
