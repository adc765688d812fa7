"""Rasa's REST channel for trusted integrations, refusing callers outside the allowed networks.

The REST channel takes a sender id on trust (an E.164 sender identifies a consumer by phone), so
only loopback may call it unless the deployment lists other networks behind its own authentication.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.adapters.tracker_store import guard_turns
from bot.domain.cards import screen_card_numbers
from bot.domain.language import language_hint

DEFAULT_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"


def parse_networks(spec: str) -> tuple:
    return tuple(ipaddress.ip_network(part.strip()) for part in spec.split(",") if part.strip())


class TrustedRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        spec = (credentials or {}).get("allowed_networks") or DEFAULT_ALLOWED_NETWORKS
        return cls(parse_networks(spec))

    def __init__(self, allowed_networks: tuple = parse_networks(DEFAULT_ALLOWED_NETWORKS)) -> None:
        self.allowed_networks = allowed_networks

    def _extract_message(self, req: Request) -> Optional[Text]:
        """Card numbers are screened out before Rasa sees the message (PCI DSS)."""
        text = super()._extract_message(req)
        return screen_card_numbers(text) if text else text

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """The caller's metadata, plus the language the message clearly reads as (for consumers nobody
        told us the language of)."""
        metadata = dict(super().get_metadata(request) or {})
        text = (request.json or {}).get("message")
        return {**metadata, **language_hint(text)} if isinstance(text, str) else metadata

    def is_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.allowed_networks)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(guard_turns(on_new_message))

        @blueprint.middleware("request")
        async def refuse_untrusted(request: Request):
            if not self.is_allowed(request.ip):
                return response.json({"error": "The REST channel only accepts trusted callers."}, status=403)
            return None

        return blueprint
