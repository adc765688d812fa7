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
from typing import Any, Mapping, Optional

from bot.adapters.rasa_conversations import ConversationUnavailable, RasaConversations


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

    The bot answers on the channel the consumer last wrote from; `channel` is kept in the outbox for
    the record. Blocking (urllib): call it from a worker thread, never the event loop.
    """

    def __init__(self, rasa_url: str, token: Optional[str], timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 intent: str = PAYMENT_OUTCOME_INTENT) -> None:
        self.conversations = RasaConversations(rasa_url, token, timeout)
        self.intent = intent

    def notify(self, conversation_id: str, channel: Optional[str], event_name: str,
               payload: Mapping[str, Any]) -> None:
        entities = {"payment_request_id": payload.get("payment_request_id"), "payment_event": event_name}
        try:
            self.conversations.trigger_intent(conversation_id, self.intent, entities)
        except ConversationUnavailable as exc:
            raise NotificationFailed(f"{exc} for {event_name}") from None
