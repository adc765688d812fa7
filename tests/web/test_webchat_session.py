"""`POST /chat/session`: the page's conversation id and the signed token that binds it."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

from sanic import Sanic

from bot.web.webchat_session import SessionSigner, webchat_session_blueprint
from tests.twilio_fakes import free_port

SIGNER = SessionSigner("session-test-secret")


def call(port: int, method: str):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/chat/session", method=method,
                                     data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), None


async def test_each_page_gets_its_own_conversation_and_a_token_for_it():
    Sanic.test_mode = True
    app = Sanic(f"session_test_{free_port()}")
    app.blueprint(webchat_session_blueprint(SIGNER))
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, call, port, "POST")
        second = await loop.run_in_executor(None, call, port, "POST")
        get = await loop.run_in_executor(None, call, port, "GET")
    finally:
        server.close()
        await server.wait_closed()
    (status, headers, body), (_, _, other) = first, second
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert SIGNER.verify(body["token"]) == body["session_id"]
    assert other["session_id"] != body["session_id"]
    assert SessionSigner("another-deployment").verify(body["token"]) is None
    assert get[0] == 405  # minted only by POST: never cached, never prefetched


def test_tokens_expire_and_name_exactly_one_conversation():
    session_id, token = SIGNER.issue(ttl=60, now=1_000_000)
    assert SIGNER.verify(token, now=1_000_030) == session_id
    assert SIGNER.verify(token, now=1_000_061) is None
    tampered = token.replace(session_id, "f" * 32)
    assert SIGNER.verify(tampered, now=1_000_030) is None
    assert SIGNER.verify(None) is None and SIGNER.verify("garbage") is None
