"""Handoffs worked through the agent API against the real stack, over the REST channel.

The REST channel cannot push, so the agent's reply is checked where a REST consumer's integration
reads it: the conversation's tracker (Rasa's HTTP API) and the communications record.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bot.payments.wiring import derive_rasa_api_token
from tests.e2e.conftest import AGENT_API_TOKEN, SECRET

pytestmark = pytest.mark.e2e


def agent_api(stack, method, path, body=None, token=AGENT_API_TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{stack.backend_url}/agent/api{path}", data=data, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def tracker_bot_texts(stack, sender):
    query = urllib.parse.urlencode({"token": derive_rasa_api_token(SECRET)})
    url = f"{stack.rasa_url}/conversations/{urllib.parse.quote(sender, safe='')}/tracker?{query}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        events = json.loads(reply.read())["events"]
    return [e.get("text") for e in events if e.get("event") == "bot"]


def recorded(stack, sender, kind, text, timeout=20):
    """The communications record is written off the event loop: wait for the row to land."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m["kind"] == kind and m["body"] == text for m in stack.ledger.communications(sender)):
            return True
        time.sleep(0.5)
    return False


def hand_off(stack, sender):
    stack.texts(sender, "/session_start")
    replies = stack.texts(sender, "/request_human")
    assert any("person on our team" in text for text in replies), replies
    return next(h for h in stack.ledger.handoffs() if h["conversation_id"] == sender)


def test_the_agent_api_refuses_callers_without_the_token(stack):
    assert agent_api(stack, "GET", "/handoffs", token=None)[0] == 401
    assert agent_api(stack, "GET", "/handoffs", token="wrong")[0] == 401


def test_an_agent_holds_the_conversation_replies_and_hands_it_back(stack, sender):
    handoff = hand_off(stack, sender)
    status, queue = agent_api(stack, "GET", "/handoffs")
    assert status == 200 and handoff["id"] in [h["id"] for h in queue]

    reply_text = "Hello, this is Sam from the support team. How can I help?"
    status, message = agent_api(stack, "POST", f"/handoffs/{handoff['id']}/messages", {"text": reply_text})
    assert status == 201, message
    assert reply_text in tracker_bot_texts(stack, sender)
    assert recorded(stack, sender, "agent_message", reply_text)

    # Held: the consumer's words reach the agent, and the bot stays silent.
    assert stack.texts(sender, "hi, are you a real person?") == []
    assert recorded(stack, sender, "message", "hi, are you a real person?")
    status, detail = agent_api(stack, "GET", f"/handoffs/{handoff['id']}")
    assert status == 200
    assert {"role": "consumer", "text": "hi, are you a real person?"}.items() <= detail["transcript"][-1].items()

    status, resolved = agent_api(stack, "POST", f"/handoffs/{handoff['id']}/resolve",
                                 {"outcome": "question_answered", "note": "wanted a person; answered"})
    assert status == 200 and resolved["status"] == "resolved"
    assert agent_api(stack, "POST", f"/handoffs/{handoff['id']}/resolve", {"outcome": "no_action"})[0] == 409

    # Handed back: the bot answers again.
    assert stack.texts(sender, "hello") != []


def test_a_malformed_body_gets_400_and_changes_nothing(stack, sender):
    handoff = hand_off(stack, sender)
    status, body = agent_api(stack, "POST", f"/handoffs/{handoff['id']}/resolve", {"note": "no outcome"})
    assert status == 400 and "outcome" in body["error"]
    assert stack.ledger.handoff(handoff["id"])["status"] == "open"
    assert stack.texts(sender, "hello") != []  # never held, the bot still answers
