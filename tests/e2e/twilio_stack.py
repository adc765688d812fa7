"""Twilio's side of the end-to-end stack: a local fake of the Messages API and a phone that texts the bot.

The stack's Twilio client is pointed at the fake (TWILIO_API_BASE), so nothing leaves the machine;
webhooks are signed with twilio's RequestValidator for PUBLIC_URL, as Twilio signs them.
"""
from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List

from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioServer, inbound_sms, signed_post

ROOT = Path(__file__).resolve().parents[2]
OUR_NUMBER = "+15005550006"


def twilio_env(server: FakeTwilioServer, public_url: str) -> Dict[str, str]:
    """The environment that makes the stack's SMS/WhatsApp channels real, against the fake API."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": OUR_NUMBER,
        "WHATSAPP_FROM": f"whatsapp:{OUR_NUMBER}",
        "TWILIO_API_BASE": server.url,
        "PUBLIC_URL": public_url,
    }


_sids = itertools.count(1)


class Phone:
    """A consumer's phone texting the running stack through the signed Twilio webhook."""

    def __init__(self, stack, number: str, channel: str = "sms") -> None:
        self.stack = stack
        self.channel = channel
        self.address = f"whatsapp:{number}" if channel == "whatsapp" else number
        self.rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])

    def text(self, body: str) -> List[str]:
        """Send one message; the bot's replies (the texts Twilio was asked to send back)."""
        before = len(self.stack.twilio.messages(self.address))
        sid = f"SM{uuid.uuid4().hex}{next(_sids)}"[:34]
        status, _ = signed_post(self.rasa_port, f"/webhooks/{self.channel}/webhook",
                                inbound_sms(self.address, body, sid, to=OUR_NUMBER), self.stack.env["PUBLIC_URL"])
        assert status == 200, status
        return [m.body or "" for m in self.stack.twilio.wait_for_replies(self.address, before)]

    def received(self) -> List[str]:
        return [m.body or "" for m in self.stack.twilio.messages(self.address)]


def bot(stack, *args: str) -> subprocess.CompletedProcess:
    """`python -m bot ...` against the stack's ledger and Twilio fake, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=stack.env, capture_output=True,
                          text=True, timeout=120)
