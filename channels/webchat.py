"""The web chat page's socket.io channel (`socketio`), with the conversation bound to a signed token.

Rasa's SocketIOInput trusts the session id the page sends, so any page that guesses one joins that
conversation, and it allows every origin. This channel:

* accepts a connection only with a token from the backend (`POST /chat/session`, signed with the
  deployment key) and uses the conversation id in the token, ignoring any the page sends;
* accepts connections only from the configured origins (WEBCHAT_ALLOWED_ORIGINS, by default the
  backend's own);
* awaits `enter_room`, which python-socketio made a coroutine in 5.10 (Rasa 3.6 does not await it,
  and every reply is then lost);
* screens card numbers and keeps typed text from posing as an intent payload: only the payloads of
  the domain's buttons pass as payloads.
"""
from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Iterable, Optional, Text
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError

from bot.adapters.tracker_store import guard_turns
from bot.domain.inbound import prepare_inbound
from bot.domain.language import language_hint

logger = logging.getLogger(__name__)

INVALID_SESSION = "invalid_session"


def default_origins(settings) -> tuple:
    """The backend's own origins: its public URL and the local addresses of its port."""
    public = urlsplit(settings.public_backend_url)
    return tuple(dict.fromkeys([
        f"{public.scheme}://{public.netloc}",
        f"http://localhost:{settings.backend_port}",
        f"http://127.0.0.1:{settings.backend_port}",
    ]))


def button_payloads(domain_path: Path) -> FrozenSet[str]:
    """Every payload a button of the domain can send: the only payloads a page may send."""
    from bot.translations import load_responses

    return frozenset(
        str(button.get("payload"))
        for variations in load_responses(domain_path).values()
        for variation in variations
        for button in variation.get("buttons") or []
        if button.get("payload")
    )


async def _enter_room(sio: AsyncServer, sid: str, room: str) -> None:
    entered = sio.enter_room(sid, room)
    if inspect.isawaitable(entered):  # python-socketio >= 5.10
        await entered


class SecureSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        from bot import bootstrap

        credentials = credentials or {}
        settings = bootstrap.settings()
        origins = credentials.get("allowed_origins") or settings.webchat_allowed_origins or default_origins(settings)
        if isinstance(origins, str):
            origins = [o.strip() for o in origins.split(",") if o.strip()]
        return cls(
            bootstrap.session_signer(),
            allowed_origins=tuple(origins),
            payloads=button_payloads(settings.project_root / "domain.yml"),
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "metadata"),
        )

    def __init__(
        self,
        signer,
        allowed_origins: Iterable[str] = (),
        payloads: Iterable[str] = (),
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        socketio_path: Text = "/socket.io",
        metadata_key: Text = "metadata",
    ) -> None:
        super().__init__(user_message_evt, bot_message_evt, None, True, socketio_path, None, "HS256",
                         metadata_key)
        self.signer = signer
        self.allowed_origins = [origin.rstrip("/") for origin in allowed_origins]
        self.payloads = frozenset(payloads)

    def consumer_text(self, text: str) -> str:
        """A button's payload passes as is; anything else is the consumer's own words."""
        text = (text or "").strip()
        if text in self.payloads:
            return text
        return prepare_inbound(text).text

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not self.allowed_origins:
            logger.warning("web chat: no allowed origins configured, so every browser connection is refused")
        guarded = guard_turns(on_new_message)
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins or "")
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect")
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            session_id = self.signer.verify((auth or {}).get("token") if isinstance(auth, dict) else None)
            if session_id is None:
                logger.debug("web chat: refused a connection without a valid session token")
                raise ConnectionRefusedError(INVALID_SESSION)
            await sio.save_session(sid, {"session_id": session_id})
            return True

        @sio.on("session_request")
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            session_id = (await sio.get_session(sid)).get("session_id")
            await _enter_room(sio, sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: Text, data: Dict) -> None:
            session_id = (await sio.get_session(sid)).get("session_id")
            if not session_id or not isinstance(data, dict):
                return
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            metadata = {key: metadata[key] for key in ("link_token", "language") if key in metadata}
            typed = str(data.get("message") or "")
            metadata.update(language_hint(typed))
            message = UserMessage(self.consumer_text(typed),
                                  SocketIOOutput(sio, self.bot_message_evt), session_id,
                                  input_channel=self.name(), metadata=metadata)
            await guarded(message)

        return socketio_webhook
