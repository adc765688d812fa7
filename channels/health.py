"""`GET /webhooks/health/`: whether this Rasa server can reach its tracker store (200) or not (503).

The load balancer and the deployment's health checks call it; it says nothing about conversations.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request

from bot.adapters.tracker_store import HEALTH


class HealthInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "health"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("health_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request):
            report = await asyncio.to_thread(HEALTH.report)
            return response.json(report, status=200 if report["tracker_store"] == "ok" else 503)

        return blueprint
