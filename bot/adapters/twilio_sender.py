"""Sending SMS and WhatsApp messages with twilio-python's async client.

The client takes its HTTP transport from the constructor (`http_client`): production uses Twilio's
own `AsyncTwilioHttpClient`; tests pass a transport that records requests, and a local stack can
point the real transport at a fake server (`TWILIO_API_BASE`).

Twilio's Messages API has no idempotency key, so a blind retry could text a consumer twice. A send is
retried here (with backoff) only when Twilio said it did not take the message: 429 and 5xx. Anything
else, a timeout included, is the caller's to record; the outbound service queues a retry of a
reminder, whose message key keeps it to one text once one went out.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from twilio.http import AsyncHttpClient
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

REQUEST_TIMEOUT_SECONDS = 15.0
NOT_TAKEN_STATUSES = frozenset({429, 500, 502, 503, 504})  # Twilio did not queue the message: safe to retry
RETRY_DELAYS_SECONDS = (0.5, 2.0)  # before the second and the third try


class RebasedHttpClient(AsyncTwilioHttpClient):
    """Twilio's async transport sending to another base URL (a local fake Twilio), path kept."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        # One aiohttp session per request: the client may be used from several event loops
        # (the CLI's asyncio.run, the servers' loops), and a pooled session belongs to one.
        super().__init__(pool_connections=False, timeout=timeout)
        self.base_url = base_url.rstrip("/")

    async def request(self, method: str, url: str, *args, **kwargs):
        parts = urlsplit(url)
        rebased = f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return await super().request(method, rebased, *args, **kwargs)


def whatsapp_address(number: str) -> str:
    """Twilio's WhatsApp address for a number: 'whatsapp:+14155550100'."""
    number = (number or "").strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


class TwilioSender:
    """One sending number (or WhatsApp sender) on one channel; returns Twilio's message SID."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_address: str,
        channel: str = "sms",
        http_client: Optional[AsyncHttpClient] = None,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
    ) -> None:
        if channel not in ("sms", "whatsapp"):
            raise ValueError(f"channel must be sms or whatsapp, got {channel!r}")
        self.channel = channel
        self.from_address = whatsapp_address(from_address) if channel == "whatsapp" else from_address
        transport = http_client or AsyncTwilioHttpClient(pool_connections=False, timeout=REQUEST_TIMEOUT_SECONDS)
        self._client = Client(account_sid, auth_token, http_client=transport)
        self.retry_delays = tuple(retry_delays)

    def address(self, phone: str) -> str:
        """The channel address of a phone number (E.164 for SMS, whatsapp:+E.164 for WhatsApp)."""
        return whatsapp_address(phone) if self.channel == "whatsapp" else phone

    async def send_text(self, to: str, body: str) -> str:
        return await self._create(to=to, from_=self.from_address, body=body)

    async def _create(self, **params: Any) -> str:
        for delay in (*self.retry_delays, None):
            try:
                return (await self._client.messages.create_async(**params)).sid
            except TwilioRestException as error:
                if delay is None or error.status not in NOT_TAKEN_STATUSES:
                    raise
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def send_content(self, to: str, content_sid: str, variables: Mapping[str, str]) -> str:
        """An approved (or quick-reply) Content API template with its numbered variables."""
        return await self._create(to=to, from_=self.from_address, content_sid=content_sid,
                                  content_variables=json.dumps(dict(variables), ensure_ascii=False))


def build_sender(settings, channel: str, http_client: Optional[AsyncHttpClient] = None) -> Optional[TwilioSender]:
    """The sender for `channel` from the settings, or None when Twilio is not configured for it."""
    from_address = settings.twilio_from if channel == "sms" else settings.whatsapp_from
    if not (settings.twilio_account_sid and settings.twilio_auth_token and from_address):
        return None
    if http_client is None and settings.twilio_api_base:
        http_client = RebasedHttpClient(settings.twilio_api_base)
    return TwilioSender(settings.twilio_account_sid, settings.twilio_auth_token, from_address, channel, http_client)
