"""Rasa's NLG endpoint: every response rendered in the conversation's language.

Rasa 3.6 (``endpoints.yml: nlg: url: http://<backend>/nlg``) POSTs, for each response it utters::

    {"response": "utter_x", "id": null, "arguments": {...}, "tracker": {...}, "channel": {"name": "sms"}}

and expects ``{"text", "buttons", "image", "elements", "attachment", "custom"}`` back
(rasa/core/nlg/callback.py). The route only maps HTTP to :meth:`bot.translations.Catalogs.render`:

* language: the ``language`` argument if the response's caller passed one (an action that switches
  language utters its reply before Rasa applies its ``SlotSet``), else the tracker's ``language``
  slot, else English;
* channel: ``channel.name``, Rasa's output channel name (``socketio``, ``collector`` for REST, and
  the custom ``sms`` / ``whatsapp``), matched against the domain's ``channel:`` variations;
* placeholders: ``arguments`` (custom actions' keyword arguments), then the tracker's slots
  (forms' ``utter_ask_*`` come with no arguments).

Errors, as JSON ``{"error": code, "message": text}``: 400 malformed JSON or a missing
``response``, 401 a wrong token (when one is configured), 404 an unknown response, 422 a
placeholder nobody filled. Rasa logs any of these and goes on without that message.
"""
from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Dict, Mapping, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.translations import Catalogs, MissingArgumentError, UnknownResponseError

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"


def _error(status: int, code: str, message: str, **extra: Any) -> HTTPResponse:
    return response.json({"error": code, "message": message, **extra}, status=status)


class BadRequest(ValueError):
    """The request body is not Rasa's NLG request."""


def _mapping(body: Mapping[str, Any], key: str) -> Dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(f"`{key}` must be a JSON object, got {type(value).__name__}.")
    return dict(value)


def parse_nlg_request(raw: bytes) -> Dict[str, Any]:
    """The parts of Rasa's NLG request that rendering needs; BadRequest says what is wrong."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    if not isinstance(body, Mapping):
        raise BadRequest("The body must be a JSON object: {\"response\", \"arguments\", \"tracker\", \"channel\"}.")
    name = body.get("response")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("`response` (the response name, e.g. \"utter_greet\") is missing.")

    arguments = _mapping(body, "arguments")
    tracker = _mapping(body, "tracker")
    slots = tracker.get("slots")
    slots = {} if slots is None else slots
    if not isinstance(slots, Mapping):
        raise BadRequest("`tracker.slots` must be a JSON object.")
    channel = body.get("channel")
    if isinstance(channel, Mapping):
        channel = channel.get("name")
    if channel is not None and not isinstance(channel, str):
        raise BadRequest("`channel.name` must be a string.")
    response_id = body.get("id")

    language = arguments.get("language") or slots.get("language") or DEFAULT_LANGUAGE
    return {
        "response": name.strip(),
        "response_id": response_id if isinstance(response_id, str) else None,
        "arguments": arguments,
        "slots": dict(slots),
        "channel": channel or None,
        "language": language if isinstance(language, str) else DEFAULT_LANGUAGE,
    }


def nlg_blueprint(catalogs: Catalogs, *, token: Optional[str] = None) -> Blueprint:
    """``POST /nlg`` for Rasa; with ``token``, only requests carrying ``?token=<token>`` are served.

    Rasa sends the token of ``endpoints.yml: nlg: token:`` as that query parameter.
    """
    blueprint = Blueprint("nlg")

    @blueprint.post("/nlg")
    async def generate(request: Request) -> HTTPResponse:
        if token is not None:
            given = request.args.get("token") or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "unauthorized", "A valid `token` query parameter is required.")
        try:
            nlg_request = parse_nlg_request(request.body)
        except BadRequest as error:
            return _error(400, "bad_request", str(error))

        name = nlg_request["response"]
        try:
            body = catalogs.render(
                name,
                nlg_request["language"],
                nlg_request["channel"],
                nlg_request["arguments"],
                slots=nlg_request["slots"],
                response_id=nlg_request["response_id"],
            )
        except UnknownResponseError as error:
            logger.error("NLG: %s", error)
            return _error(404, "unknown_response", str(error), response=name)
        except MissingArgumentError as error:
            # Names only: the values may be personal data.
            logger.error("NLG: %s (language %s, channel %s)", error, nlg_request["language"],
                         nlg_request["channel"])
            return _error(422, "missing_argument", str(error), response=name, missing=error.missing)
        return response.json(body)

    return blueprint
