"""Who may use the agent console and the agent API, and the login/logout pages.

Two ways in, one check (`AgentAuth.require_agent`):

* the console pages: a login form sets a signed, expiring, HttpOnly, SameSite=Strict session cookie
  (`bot.security.LinkSigner` with its own purpose, so a personal link never passes as a session);
  every state-changing request made with that cookie must carry the session's CSRF token (form field
  `csrf_token` or header `X-CSRF-Token`) and, when the browser sends one, a same-origin `Origin`;
* scripts: `Authorization: Bearer $AGENT_API_TOKEN`, compared in constant time; acts as agent `api`.

Anything else gets 401: JSON under /agent/api, an HTML page pointing at the login page elsewhere.
Usage in another blueprint::

    auth = AgentAuth(agents_store, secret_key, api_token)

    @bp.get("/agent/something")
    @auth.require_agent
    async def something(request):
        request.ctx.agent  # the agent's username
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import html
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote, urlsplit

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.security import LinkSigner, hash_password, tokens_match, verify_password

SESSION_COOKIE = "agent_session"
SESSION_TTL_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
API_AGENT = "api"  # the agent name recorded for actions taken with the bearer token
LOGIN_PATH = "/agent/login"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CONSOLE_DIR = Path(__file__).resolve().parent / "agent_console"
# Compared against when a username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password", salt=b"0" * 16)

Handler = Callable[..., Awaitable[HTTPResponse]]


@dataclass(frozen=True)
class Identity:
    username: str
    via: str  # "session" or "token"


class AgentAuth:
    def __init__(self, agents, secret: str, api_token: Optional[str], secure_cookies: bool = False) -> None:
        self.agents = agents
        self.api_token = api_token
        self.secure_cookies = secure_cookies
        self._sessions = LinkSigner(secret, purpose="agent-sessions")
        self._csrf_key = hmac.new(secret.encode(), b"agent-csrf", hashlib.sha256).digest()

    # --- sessions ---------------------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> Optional[str]:
        """The username when the password is right; None otherwise (same work either way)."""
        agent = self.agents.agent(username) if username else None
        matches = verify_password(password, agent["password_hash"] if agent else _DUMMY_HASH)
        return username if agent and matches else None

    def new_session(self, username: str) -> str:
        return self._sessions.sign(username, ttl=SESSION_TTL_SECONDS)

    def csrf_token(self, session: str) -> str:
        """Bound to the session cookie: a page of another site can neither read nor forge it."""
        return hmac.new(self._csrf_key, session.encode(), hashlib.sha256).hexdigest()

    def set_session_cookie(self, resp: HTTPResponse, session: str) -> None:
        resp.cookies[SESSION_COOKIE] = session
        cookie = resp.cookies[SESSION_COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/"
        cookie["max-age"] = SESSION_TTL_SECONDS
        if self.secure_cookies:
            cookie["secure"] = True

    @staticmethod
    def clear_session_cookie(resp: HTTPResponse) -> None:
        resp.cookies[SESSION_COOKIE] = ""
        resp.cookies[SESSION_COOKIE]["max-age"] = 0
        resp.cookies[SESSION_COOKIE]["path"] = "/"

    # --- the check ----------------------------------------------------------------------------------

    async def identify(self, request: Request) -> Optional[Identity]:
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            return Identity(API_AGENT, "token") if tokens_match(token.strip(), self.api_token) else None
        username = self._sessions.verify(request.cookies.get(SESSION_COOKIE))
        if username is None:
            return None
        # The agent may have been removed since the cookie was issued.
        agent = await asyncio.to_thread(self.agents.agent, username)
        return Identity(username, "session") if agent else None

    def csrf_ok(self, request: Request) -> bool:
        if not same_origin(request):
            return False
        session = request.cookies.get(SESSION_COOKIE) or ""
        given = request.headers.get(CSRF_HEADER) or _form_value(request, CSRF_FIELD)
        return bool(given) and hmac.compare_digest(given, self.csrf_token(session))

    def require_agent(self, handler: Handler) -> Handler:
        """Decorator: 401 without a valid session or bearer token; 403 for a session POST without CSRF."""

        @functools.wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            identity = await self.identify(request)
            if identity is None:
                return unauthorized(request)
            if identity.via == "session" and request.method not in SAFE_METHODS and not self.csrf_ok(request):
                return forbidden(request, "missing or invalid CSRF token")
            request.ctx.agent = identity.username
            request.ctx.csrf_token = self.csrf_token(request.cookies.get(SESSION_COOKIE) or "") \
                if identity.via == "session" else ""
            return await handler(request, *args, **kwargs)

        return guarded


def same_origin(request: Request) -> bool:
    """A browser's Origin header, when present, must name this host."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


def _form_value(request: Request, name: str) -> str:
    try:
        return (request.form or {}).get(name) or ""
    except Exception:  # not a form body
        return ""


def is_api(request: Request) -> bool:
    return request.path.startswith("/agent/api")


def unauthorized(request: Request) -> HTTPResponse:
    if is_api(request):
        return response.json({"error": "authentication required: a Bearer token or a console session"},
                             status=401, headers={"WWW-Authenticate": 'Bearer realm="agent"'})
    target = f"{LOGIN_PATH}?next={quote(request.path, safe='/')}"
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in required</title>'
            f'<meta http-equiv="refresh" content="0;url={html.escape(target)}"></head>'
            f'<body><p>Please <a href="{html.escape(target)}">sign in</a>.</p></body></html>')
    return response.html(page, status=401)


def forbidden(request: Request, message: str) -> HTTPResponse:
    if is_api(request):
        return response.json({"error": message}, status=403)
    return response.text(message, status=403)


def safe_next(target: Optional[str]) -> str:
    """Only a path inside the console: never another site (open redirect)."""
    if target and target.startswith("/agent") and not target.startswith("//") and "\\" not in target:
        return target
    return "/agent/"


def render(name: str, **values: str) -> str:
    """A console page template with every value HTML-escaped."""
    template = string.Template((CONSOLE_DIR / name).read_text(encoding="utf-8"))
    return template.substitute({key: html.escape(str(value)) for key, value in values.items()})


def agent_login_blueprint(auth: AgentAuth) -> Blueprint:
    """GET/POST /agent/login and POST /agent/logout."""
    bp = Blueprint("agent_login")

    @bp.get(LOGIN_PATH)
    async def login_page(request: Request) -> HTTPResponse:
        return _login_html(request.args.get("next"), "")

    @bp.post(LOGIN_PATH)
    async def login(request: Request) -> HTTPResponse:
        if not same_origin(request):
            return forbidden(request, "cross-site login refused")
        form = request.form or {}
        username = (form.get("username") or "").strip()
        agent = await asyncio.to_thread(auth.check_password, username, form.get("password") or "")
        if agent is None:
            return _login_html(form.get("next"), "Wrong username or password.", status=401)
        resp = response.redirect(safe_next(form.get("next")), status=303)
        auth.set_session_cookie(resp, auth.new_session(agent))
        return resp

    @bp.post("/agent/logout")
    @auth.require_agent
    async def logout(request: Request) -> HTTPResponse:
        resp = response.redirect(LOGIN_PATH, status=303)
        auth.clear_session_cookie(resp)
        return resp

    @bp.get("/static/agent/<name:str>")
    async def console_static(request: Request, name: str) -> HTTPResponse:
        """The console's own CSS and JS (public: they hold no data)."""
        match = _STATIC_NAME.match(name)
        path = CONSOLE_DIR / "static" / name
        if not match or not path.is_file():
            return response.text("Not found", status=404)
        return await response.file(path, mime_type=_CONTENT_TYPES[match.group(1)],
                                   headers={"Cache-Control": "no-cache"})

    return bp


_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js)$")
_CONTENT_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


def _login_html(next_path: Optional[str], error: str, status: int = 200) -> HTTPResponse:
    page = render("login.html", next=safe_next(next_path), error=error, error_hidden="" if error else "hidden")
    return response.html(page, status=status, headers=CONSOLE_HEADERS)


CONSOLE_CSP = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
CONSOLE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONSOLE_CSP,
    # The backend's default is no-referrer, under which browsers send `Origin: null` with a POST;
    # same-origin keeps the real Origin on our own requests so same_origin() can check it.
    "Referrer-Policy": "same-origin",
}
