"""Web chat session tokens: a conversation id bound to the browser the backend gave it to.

Rasa's socket.io channel lets any page that knows (or guesses) a session id join that conversation
and read the replies. Here the backend mints the conversation id together with a signed, expiring
token (`POST /chat/session`); the socket.io channel (channels/webchat.py) accepts a connection only
with a valid token and uses the conversation id the token names, never one the page sends.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.security import same_signature, token_parts

SESSION_TTL_SECONDS = 12 * 3600


class SessionSigner:
    """Tokens `<session id>.<expiry>.<signature>` with a key of their own (not the personal links' key)."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"webchat-sessions", hashlib.sha256).digest()

    def issue(self, ttl: int = SESSION_TTL_SECONDS, now: Optional[float] = None) -> Tuple[str, str]:
        """A new conversation id and its token."""
        session_id = secrets.token_hex(16)
        return session_id, self.sign(session_id, ttl, now)

    def sign(self, session_id: str, ttl: int = SESSION_TTL_SECONDS, now: Optional[float] = None) -> str:
        payload = f"{session_id}.{int((now or time.time()) + ttl)}"
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: Optional[str], now: Optional[float] = None) -> Optional[str]:
        """The conversation id of a valid, unexpired token; None otherwise."""
        parts = token_parts(token)
        if not parts:
            return None
        session_id, expires, signature = parts
        if not same_signature(signature, self._signature(f"{session_id}.{expires}")):
            return None
        if int(expires) < (now or time.time()):
            return None
        return session_id

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def webchat_session_blueprint(signer: SessionSigner) -> Blueprint:
    """`POST /chat/session`: a fresh conversation id and token for the page (same origin only)."""
    blueprint = Blueprint("webchat_session")

    @blueprint.post("/chat/session")
    async def new_session(request: Request) -> HTTPResponse:
        session_id, token = signer.issue()
        return response.json(
            {"session_id": session_id, "token": token, "expires_in": SESSION_TTL_SECONDS},
            headers={"Cache-Control": "no-store"},
        )

    return blueprint
