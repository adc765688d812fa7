"""Calls to the action server (Rasa 3.6's `RemoteAction`, `AvailableEndpoints`), fixed.

When the action server is down, fails or takes longer than `ACTION_TIMEOUT_SECONDS`, Rasa 3.6 logs
the exception and goes on without the action: the consumer hears nothing (or only half an answer),
and its call waits up to five minutes first, where Twilio gives a webhook 15 seconds. Here the call
gives up after `ACTION_TIMEOUT_SECONDS`, and the consumer is told kindly to try again in a minute
(`utter_try_again_shortly`). The action's events are not applied; every ledger write an action makes
is idempotent per turn, so the retried message cannot do anything twice.

- Rasa checks every reply of the action server against a JSON schema with `jsonschema.validate`, which
  first checks the schema itself against the JSON Schema metaschema, on every call: 31% of the
  process's CPU. Here the validators are built once, and each event is checked against the schema
  of its own type instead of trying all 23 (`oneOf`, 5 ms a message). A valid reply passes on that
  fast path; an invalid one still goes through Rasa's own check, so it fails with Rasa's own error.
- Rasa opens a new HTTP session, and so a new connection, for every call to the action server, and
  closes it after the answer: a TCP handshake, a session and a connection task on both sides, two
  or three times a message. Here the action endpoint keeps its connections open between calls (one
  session per event loop), closing an idle one after `ACTION_KEEP_ALIVE_SECONDS`, before the action
  server would (Sanic closes after 5 s).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from typing import Any, Dict, List, Text

import aiohttp
import rasa.core.actions.action
import rasa.core.run
from rasa.core.actions.action import ActionBotResponse, ActionExecutionRejection, RemoteAction
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot.adapters.tracker_store import TRY_AGAIN

logger = logging.getLogger(__name__)

ACTION_TIMEOUT_SECONDS = 10  # within the 15 s Twilio waits for a webhook's answer
ACTION_KEEP_ALIVE_SECONDS = 2  # idle connections to the action server close before its own 5 s

_rasas_run_remote_action = RemoteAction.run
_rasas_validate_action_result = RemoteAction._validate_action_result
_rasas_available_endpoints_init = AvailableEndpoints.__init__
_rasas_close_resources = rasa.core.run.close_resources


class ActionResultValidator:
    """Rasa's action-server reply schema, with each event checked against its own type's schema.

    The schema's events are `oneOf` 23 types, each fixed by a distinct `event` constant: an event is
    valid exactly when it is valid under its type's schema, so trying the other 22 decides nothing.
    """

    def __init__(self, schema: Dict[str, Any]) -> None:
        from jsonschema.validators import validator_for

        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        event_schema = dict(schema["properties"]["events"]["items"])
        types = event_schema.pop("oneOf")
        self.reply = validator_class({**schema, "properties": {**schema["properties"], "events": {"type": "array"}}})
        self.events = {kind["properties"]["event"]["const"]: validator_class({"allOf": [event_schema, kind]})
                       for kind in types}

    def is_valid(self, result: Any) -> bool:
        if not self.reply.is_valid(result):
            return False
        for event in result.get("events") or []:
            validator = self.events.get(event.get("event")) if isinstance(event, dict) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True


@functools.lru_cache(maxsize=None)
def action_result_validator() -> ActionResultValidator:
    return ActionResultValidator(RemoteAction.action_response_format_spec())


def validate_action_result(action: RemoteAction, result: Dict[Text, Any]) -> bool:
    if action_result_validator().is_valid(result):
        return True
    return _rasas_validate_action_result(action, result)


class KeptAliveEndpoint(EndpointConfig):
    """An endpoint whose calls share one HTTP session per event loop, so connections outlive a call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = \
            weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, endpoint: EndpointConfig) -> "KeptAliveEndpoint":
        kept_alive = cls(endpoint.url, endpoint.params, endpoint.headers, endpoint.basic_auth, endpoint.token,
                         endpoint.token_name, endpoint.cafile, **endpoint.kwargs)
        kept_alive.type = endpoint.type
        return kept_alive

    def session(self) -> "LentSession":
        """Rasa's `request` closes the session it gets when the call ends: this one is only lent."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) \
                if self.basic_auth else None
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_KEEP_ALIVE_SECONDS),
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT))
            self._sessions[loop] = session
        return LentSession(session)

    def copy(self) -> "KeptAliveEndpoint":
        return KeptAliveEndpoint.of(self)

    async def close(self) -> None:
        """Close this event loop's session (the server is stopping)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


class LentSession:
    """`async with` gives the shared session and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_: Any) -> None:
        return None


def endpoints_with_kept_alive_actions(endpoints: AvailableEndpoints, *args: Any, **kwargs: Any) -> None:
    """Rasa's `AvailableEndpoints`, with the action server called over kept-alive connections."""
    _rasas_available_endpoints_init(endpoints, *args, **kwargs)
    if endpoints.action is not None and not isinstance(endpoints.action, KeptAliveEndpoint):
        endpoints.action = KeptAliveEndpoint.of(endpoints.action)


async def close_resources_and_action_sessions(app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Rasa's `close_resources` when the server stops, then the action endpoint's open connections."""
    await _rasas_close_resources(app, loop)
    endpoint = getattr(getattr(app.ctx, "agent", None), "action_endpoint", None)
    if isinstance(endpoint, KeptAliveEndpoint):
        await endpoint.close()


async def run_or_ask_to_try_again(action: RemoteAction, output_channel: Any, nlg: Any, tracker: Any,
                                  domain: Any) -> List[Event]:
    try:
        return await _rasas_run_remote_action(action, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise  # a form rejecting its slot: Rasa lets another policy predict
    except (RasaException, asyncio.TimeoutError) as error:
        logger.error("custom action %s failed (%s): the consumer is asked to try again", action.name(),
                     error or type(error).__name__)
        return await ActionBotResponse(TRY_AGAIN).run(output_channel, nlg, tracker, domain)


def install() -> None:
    rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
    RemoteAction.run = run_or_ask_to_try_again
    RemoteAction._validate_action_result = validate_action_result
    AvailableEndpoints.__init__ = endpoints_with_kept_alive_actions
    rasa.core.run.close_resources = close_resources_and_action_sessions
