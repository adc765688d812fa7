"""Telling the consumer about a payment outcome on their own channel, through Rasa.

The port is `ConsumerNotifier.notify(conversation_id, channel, event_name, payload)`; it raises
NotificationFailed when the message could not be handed over. The payments service never calls it
inside a transaction: outcomes are queued in the `payment_notifications` outbox together with the
ledger change, and delivered afterwards (right away by the web route, and again by the scheduler
until delivered), so a notification is never lost to a Rasa restart.

The adapter injects the intent `EXTERNAL_payment_outcome` into the conversation with Rasa's HTTP API
(`POST /conversations/<id>/trigger_intent?output_channel=latest&token=...`). Its entities are
`payment_request_id` and `payment_event`; the action that answers it looks the request up with
`PaymentsService.payment_request(id)` and utters the receipt or the kind next step.
"""
from __future__ import annotations

import abc
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Mapping, Optional

logger = logging.getLogger(__name__)

PAYMENT_OUTCOME_INTENT = "EXTERNAL_payment_outcome"
DEFAULT_TIMEOUT_SECONDS = 10


class NotificationFailed(Exception):
    """The message was not handed over; the outbox retries it later."""


class ConsumerNotifier(abc.ABC):
    @abc.abstractmethod
    def notify(self, conversation_id: str, channel: Optional[str], event_name: str,
               payload: Mapping[str, Any]) -> None:
        """Deliver one outcome to the conversation, or raise NotificationFailed."""


class RasaTriggerNotifier(ConsumerNotifier):
    """Rasa's trigger_intent API (Rasa runs with --enable-api --auth-token <RASA_API_TOKEN>).

    `output_channel=latest` answers on the channel the consumer last wrote from; `channel` is kept in
    the outbox for the record. Blocking (urllib): call it from a worker thread, never the event loop.
    """

    def __init__(self, rasa_url: str, token: Optional[str], timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 intent: str = PAYMENT_OUTCOME_INTENT) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.intent = intent

    def url_for(self, conversation_id: str) -> str:
        query: Dict[str, str] = {"output_channel": "latest"}
        if self.token:
            query["token"] = self.token
        path = urllib.parse.quote(conversation_id, safe="")
        return f"{self.rasa_url}/conversations/{path}/trigger_intent?{urllib.parse.urlencode(query)}"

    def body_for(self, event_name: str, payload: Mapping[str, Any]) -> Dict[str, Any]:
        return {"name": self.intent, "entities": {"payment_request_id": payload.get("payment_request_id"),
                                                  "payment_event": event_name}}

    def notify(self, conversation_id: str, channel: Optional[str], event_name: str,
               payload: Mapping[str, Any]) -> None:
        request = urllib.request.Request(
            self.url_for(conversation_id), data=json.dumps(self.body_for(event_name, payload)).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                reply.read()
        except urllib.error.HTTPError as exc:
            raise NotificationFailed(f"Rasa answered {exc.code} for {event_name}") from None
        except (urllib.error.URLError, OSError) as exc:
            # The URL carries the token: never put it in the message.
            reason = getattr(exc, "reason", exc)
            raise NotificationFailed(f"Rasa unreachable for {event_name}: {reason}") from None
