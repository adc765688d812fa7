"""The backend web app: the consumer's web chat page, its assets and a health check.

The page talks to Rasa's socket.io channel directly from the browser; this app only
serves the page, its own CSS/JS, and the socket.io client that `npm ci` installs into
node_modules (never a CDN).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import string
from pathlib import Path
from typing import Any, Dict, Mapping, Optional
from urllib.parse import urlsplit

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.ui_text import ui_language, webchat_strings

logger = logging.getLogger(__name__)

APP_NAME = "debt_backend"
DEFAULT_LANGUAGE = "en"

WEBCHAT_DIR = Path(__file__).resolve().parent / "webchat"
TEMPLATE_PATH = WEBCHAT_DIR / "chat.html"
STATIC_DIR = WEBCHAT_DIR / "static"

# Vendor files served from node_modules: an allowlist, never a path taken from the URL.
VENDOR_FILES: Dict[str, str] = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "socket.io.min.js.map": "socket.io-client/dist/socket.io.min.js.map",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",  # the dashboard's charts
    "chart.umd.min.js.map": "chart.js/dist/chart.umd.min.js.map",
}
VENDOR_MISSING_MESSAGE = (
    "The web chat's socket.io client is not installed: run npm ci "
    "in the project root (it installs node_modules from package-lock.json)."
)

_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js)$")
_CONTENT_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "map": "application/json; charset=utf-8",
}

def pick_language(requested: Optional[str]) -> str:
    """The UI language for a `?lang=` value ("es", "es-US", "ES_mx" -> "es"): one with a catalog, else en."""
    return ui_language(requested)


class RasaEndpoint:
    """Where the browser reaches Rasa's socket.io server, split the way the page needs it."""

    def __init__(self, public_url: str) -> None:
        parts = urlsplit(str(public_url).strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"rasa_public_url must be an absolute http(s) URL, got {public_url!r}"
            )
        self.origin = f"{parts.scheme}://{parts.netloc}"
        # A reverse proxy may mount Rasa under a prefix: socket.io lives below it.
        self.socketio_path = parts.path.rstrip("/") + "/socket.io"
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_origin = f"{ws_scheme}://{parts.netloc}"


def content_security_policy(rasa: RasaEndpoint) -> str:
    """Only our own scripts and styles; network only to ourselves and Rasa."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {rasa.origin} {rasa.ws_origin}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _file_version(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "missing"


def _json_for_html(data: Any) -> str:
    """JSON that is safe inside a <script type="application/json"> element."""
    text = json.dumps(data, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_chat_page(
    template: str, language: str, rasa: RasaEndpoint, versions: Mapping[str, str]
) -> str:
    """Fill the page template; every value is HTML-escaped (the config is JSON-escaped)."""
    strings = webchat_strings(language)
    config = {
        "rasaUrl": rasa.origin,
        "socketPath": rasa.socketio_path,
        "language": language,
        "strings": strings,
    }
    values = {f"s_{key}": html.escape(value) for key, value in strings.items()}
    values.update(
        lang=html.escape(language),
        config_json=_json_for_html(config),
        css_version=html.escape(versions["chat.css"]),
        js_version=html.escape(versions["chat.js"]),
        vendor_version=html.escape(versions["vendor"]),
    )
    return string.Template(template).substitute(values)


def webchat_blueprint(settings: Any) -> Blueprint:
    """The chat page, its own assets and the vendored socket.io client."""
    rasa = RasaEndpoint(settings.rasa_public_url)
    node_modules = Path(settings.project_root) / "node_modules"
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    versions = {
        "chat.css": _file_version(STATIC_DIR / "chat.css"),
        "chat.js": _file_version(STATIC_DIR / "chat.js"),
        "vendor": _file_version(node_modules / VENDOR_FILES["socket.io.min.js"]),
    }
    if versions["vendor"] == "missing":
        logger.warning(
            "%s (looked for %s)",
            VENDOR_MISSING_MESSAGE,
            node_modules / VENDOR_FILES["socket.io.min.js"],
        )

    bp = Blueprint("webchat")

    @bp.get("/")
    async def index(request: Request) -> HTTPResponse:
        # Keep the query: a personal link pointed at the root still carries its token.
        query = f"?{request.query_string}" if request.query_string else ""
        return response.redirect(f"/chat{query}", status=302)

    @bp.get("/chat")
    async def chat(request: Request) -> HTTPResponse:
        language = pick_language(request.args.get("lang"))
        page = render_chat_page(template, language, rasa, versions)
        return response.html(
            page,
            headers={
                "Content-Security-Policy": content_security_policy(rasa),
                # The URL carries a personal link token: keep it out of caches.
                "Cache-Control": "no-store",
            },
        )

    @bp.get("/static/webchat/<name:str>")
    async def webchat_static(request: Request, name: str) -> HTTPResponse:
        match = _STATIC_NAME.match(name)
        path = STATIC_DIR / name
        if not match or not path.is_file():
            return response.text("Not found", status=404)
        return await response.file(
            path,
            mime_type=_CONTENT_TYPES[match.group(1)],
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @bp.get("/static/vendor/<name:str>")
    async def vendor_static(request: Request, name: str) -> HTTPResponse:
        relative = VENDOR_FILES.get(name)
        if relative is None:
            return response.text("Not found", status=404)
        path = node_modules / relative
        if not path.is_file():
            logger.error(
                "Cannot serve /static/vendor/%s: %s (missing %s)",
                name,
                VENDOR_MISSING_MESSAGE,
                path,
            )
            return response.text(VENDOR_MISSING_MESSAGE, status=500)
        return await response.file(
            path,
            mime_type=_CONTENT_TYPES[name.rsplit(".", 1)[-1]],
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return bp


def create_backend_app(settings: Any) -> Sanic:
    """Build the backend app.

    `settings` needs `rasa_public_url` (where the browser reaches Rasa, e.g.
    "http://localhost:5005") and `project_root` (a pathlib.Path holding node_modules).
    """
    app = Sanic(APP_NAME)
    app.config.FALLBACK_ERROR_FORMAT = "text"
    # The page is the only HTML we serve; CSP for it is set on its route.
    app.blueprint(webchat_blueprint(settings))

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.on_response
    async def security_headers(request: Request, resp: HTTPResponse) -> None:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "DENY")

    return app
