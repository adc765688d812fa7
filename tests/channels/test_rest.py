"""The REST channel as Rasa serves it: loopback callers are answered, others get 403."""
from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request

import pytest
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from channels.rest import TrustedRestInput


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(port: int, body: dict):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class EchoAgent:
    """Stands in for Rasa's agent behind the channel: answers every message with its text."""

    def __init__(self) -> None:
        self.received = []

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


async def serve_and_post(channel: TrustedRestInput, body: dict):
    """The channel registered on a Sanic app exactly as Rasa registers its channels."""
    Sanic.test_mode = True
    app = Sanic(f"rest_test_{free_port()}")
    app.ctx.agent = EchoAgent()
    register([channel], app, route="/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        status, reply = await asyncio.get_running_loop().run_in_executor(None, post, port, body)
    finally:
        server.close()
        await server.wait_closed()
    return status, reply, app.ctx.agent.received


@pytest.mark.parametrize(
    "networks, expected_status",
    [
        ("127.0.0.0/8,::1/128", 200),  # the default: loopback is trusted
        ("10.0.0.0/8", 403),  # a deployment that trusts only its private network refuses loopback
    ],
)
async def test_only_trusted_networks_reach_the_bot(networks, expected_status):
    channel = TrustedRestInput.from_credentials({"allowed_networks": networks})
    status, reply, received = await serve_and_post(channel, {"sender": "+14155550101", "message": "hi"})
    assert status == expected_status
    if expected_status == 200:
        assert reply == [{"recipient_id": "+14155550101", "text": "echo: hi"}]
        assert [m.text for m in received] == ["hi"]
    else:
        assert received == [] and "trusted" in reply["error"]


def test_channel_keeps_rasas_rest_name_and_path():
    assert TrustedRestInput.name() == "rest"
    assert TrustedRestInput.from_credentials(None).is_allowed("127.0.0.1")
    assert not TrustedRestInput.from_credentials(None).is_allowed("203.0.113.9")
    assert not TrustedRestInput.from_credentials(None).is_allowed("not-an-ip")


async def test_a_card_number_never_reaches_the_bot():
    channel = TrustedRestInput.from_credentials(None)
    status, _, received = await serve_and_post(channel, {"sender": "web-1", "message": "my card is 4242 4242 4242 4242"})
    assert status == 200
    assert [m.text for m in received] == ["/EXTERNAL_card_number_shared"]
