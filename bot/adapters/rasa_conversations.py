"""Holding a conversation for an agent, through Rasa's HTTP API (--enable-api --auth-token).

* `pause` / `resume` append Rasa's own events: a paused tracker logs the consumer's messages but
  predicts no actions (rasa.core.processor: `_should_handle_message`), so the bot stays silent
  while an agent holds the conversation and picks up where it was on resume.
* `trigger_intent` injects an intent (e.g. a payment outcome) that the bot answers on the
  consumer's latest channel.
* `say` appends a `bot` event with `execute_side_effects=true&output_channel=latest`: Rasa sends it
  on the channel the consumer last wrote from (web chat socket, SMS, WhatsApp), stores it in the
  tracker and streams it to the event broker, which writes the communications record. The REST
  channel cannot push: there the reply lands in the tracker and the record only (docs/agents.md).

Blocking (urllib): call it from a worker thread, never the event loop.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

DEFAULT_TIMEOUT_SECONDS = 15


class ConversationUnavailable(Exception):
    """Rasa could not be reached or refused the change."""


class RasaConversations:
    def __init__(self, rasa_url: str, token: Optional[str], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def pause(self, conversation_id: str) -> None:
        self._append(conversation_id, [{"event": "pause"}])

    def resume(self, conversation_id: str) -> None:
        self._append(conversation_id, [{"event": "resume"}])

    def say(self, conversation_id: str, text: str, agent: Optional[str]) -> None:
        """`agent` None: a message on the team's behalf (a dispute's outcome), recorded as the bot's."""
        event = {"event": "bot", "text": text, "metadata": {"agent": agent} if agent else {}}
        self._append(conversation_id, [event], execute_side_effects="true", output_channel="latest")

    def trigger_intent(self, conversation_id: str, name: str, entities: Dict[str, Any]) -> None:
        self._post(conversation_id, "trigger_intent", {"name": name, "entities": entities}, output_channel="latest")

    def _append(self, conversation_id: str, events: List[Dict[str, Any]], **params: str) -> None:
        self._post(conversation_id, "tracker/events", events, **params)

    def _post(self, conversation_id: str, endpoint: str, body: Any, **params: str) -> None:
        query = dict(params, **({"token": self.token} if self.token else {}))
        path = urllib.parse.quote(conversation_id, safe="")
        url = f"{self.rasa_url}/conversations/{path}/{endpoint}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                reply.read()
        except urllib.error.HTTPError as exc:
            raise ConversationUnavailable(f"Rasa answered {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            # The URL carries the token: never put it in the message.
            raise ConversationUnavailable(f"Rasa unreachable: {getattr(exc, 'reason', exc)}") from None
