"""Routes, headers and static files of the backend app (bot/web/backend.py).

The app is driven in-process through its ASGI interface by tests/web/asgi_client.py:
Sanic 21.12's own `app.asgi_client` needs sanic-testing, whose versions for this Sanic
would downgrade h11, and the venv has no `httpx` (only `httpx2`, via huggingface_hub).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from sanic import Sanic

from bot.web import backend
from bot.ui_text import webchat_strings
from bot.web.backend import create_backend_app
from tests.web.asgi_client import Client

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RASA_URL = "http://localhost:5005"
FAKE_VENDOR_JS = b"/*! fake socket.io for tests */ window.io = function () {};\n"


def make_settings(project_root: Path, rasa_public_url: str = RASA_URL) -> SimpleNamespace:
    return SimpleNamespace(rasa_public_url=rasa_public_url, project_root=project_root)


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test builds a fresh "debt_backend"; Sanic refuses a reused name outside test mode.
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A project root whose node_modules holds a stand-in socket.io client."""
    dist = tmp_path / "node_modules" / "socket.io-client" / "dist"
    dist.mkdir(parents=True)
    (dist / "socket.io.min.js").write_bytes(FAKE_VENDOR_JS)
    return tmp_path


def _client(settings: SimpleNamespace) -> Client:
    return Client(create_backend_app(settings))


@pytest_asyncio.fixture
async def client(fake_root: Path):
    async with _client(make_settings(fake_root)) as client:
        yield client


@pytest_asyncio.fixture
async def real_client():
    """The app over the repo's own node_modules (what `npm ci` installs)."""
    async with _client(make_settings(PROJECT_ROOT)) as client:
        yield client


def chat_config(page: str) -> Dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="chat-config">(.*?)</script>', page, re.S
    )
    assert match, "the page carries its config as a JSON data block"
    return json.loads(match.group(1))


# --- factory ------------------------------------------------------------------------------


def test_factory_names_the_app(fake_root: Path) -> None:
    app = create_backend_app(make_settings(fake_root))
    assert isinstance(app, Sanic)
    assert app.name == "debt_backend"


def test_importing_the_module_creates_no_app() -> None:
    assert not any(isinstance(v, Sanic) for v in vars(backend).values())


@pytest.mark.parametrize(
    "url",
    [
        "localhost:5005",  # no scheme
        "ftp://localhost:5005",  # not http(s)
        "http://",  # no host
    ],
)
def test_factory_rejects_a_bad_rasa_url(fake_root: Path, url: str) -> None:
    with pytest.raises(ValueError, match="rasa_public_url"):
        create_backend_app(make_settings(fake_root, url))


# --- routes ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_health(client: Client) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    assert resp.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_root_redirects_to_chat(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status in (301, 302, 303, 307, 308)
    assert resp.headers["location"] == "/chat"


@pytest.mark.asyncio
async def test_root_redirect_keeps_the_personal_link(client: Client) -> None:
    resp = await client.get("/?t=abc.def-ghi&lang=es")
    assert resp.headers["location"] == "/chat?t=abc.def-ghi&lang=es"


@pytest.mark.asyncio
async def test_chat_page_has_the_test_hooks_and_accessible_structure(
    client: Client,
) -> None:
    resp = await client.get("/chat")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    assert '<html lang="en">' in page
    assert "<title>Resolve</title>" in page
    assert 'id="chat-input"' in page
    assert 'id="chat-send"' in page
    assert '<label class="visually-hidden" for="chat-input">' in page
    assert re.search(r'<ol[^>]*role="log"[^>]*aria-live="polite"', page)
    assert 'placeholder="Type a message…"' in page
    assert "connecting…" in page


@pytest.mark.asyncio
async def test_chat_page_config_points_the_browser_at_rasa(client: Client) -> None:
    page = (await client.get("/chat")).text
    config = chat_config(page)
    assert config["rasaUrl"] == "http://localhost:5005"
    assert config["socketPath"] == "/socket.io"
    assert config["language"] == "en"
    assert config["strings"] == webchat_strings("en")


@pytest.mark.asyncio
async def test_rasa_behind_a_path_prefix_over_https(fake_root: Path) -> None:
    async with _client(make_settings(fake_root, "https://chat.example.test/rasa/")) as client:
        resp = await client.get("/chat")
    config = chat_config(resp.text)
    assert config["rasaUrl"] == "https://chat.example.test"
    assert config["socketPath"] == "/rasa/socket.io"
    csp = resp.headers["content-security-policy"]
    assert "connect-src 'self' https://chat.example.test wss://chat.example.test;" in csp


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "lang, expected",
    [
        ("es", "es"),  # Spanish
        ("es-US", "es"),  # a regional tag falls back to its language
        ("EN", "en"),  # case-insensitive
        ("fr", "en"),  # unsupported language: English
        ("", "en"),  # empty value: English
    ],
)
async def test_language_is_chosen_by_query(client: Client, lang: str, expected: str) -> None:
    page = (await client.get("/chat?" + urlencode({"lang": lang}))).text
    strings = webchat_strings(expected)
    assert f'<html lang="{expected}">' in page
    assert f"<title>{strings['title']}</title>" in page
    assert f'placeholder="{strings["placeholder"]}"' in page
    assert chat_config(page)["strings"] == strings


def test_every_language_has_every_string() -> None:
    english, spanish = webchat_strings("en"), webchat_strings("es")
    assert {"title", "placeholder", "send", "connecting", "reconnecting"} <= set(english)
    assert set(spanish) == set(english)
    assert all(value.strip() for value in spanish.values())
    # Translated from the catalog, not English by fallback (the brand name is the same in both).
    assert [key for key in english if english[key] == spanish[key]] == ["title"]
    # Anyone holding the phone may open the page: it must not say there is a debt (1006.6(d)).
    for strings in (english, spanish):
        page_text = " ".join(strings.values()).lower()
        assert not any(word in page_text for word in ("balance", "saldo", "debt", "deuda", "owe", "debe"))


@pytest.mark.asyncio
async def test_spanish_page(client: Client) -> None:
    page = (await client.get("/chat?" + urlencode({"lang": "es"}))).text
    assert "Chat seguro" in page
    assert "conectando…" in page
    assert "Enviar" in page


@pytest.mark.asyncio
async def test_link_token_is_never_rendered_into_the_page(client: Client) -> None:
    token = "</script><script>alert(1)</script>"
    page = (await client.get("/chat?" + urlencode({"t": token, "lang": "<b>es"}))).text
    assert "alert(1)" not in page
    assert "<b>es" not in page


def test_strings_and_config_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = dict(webchat_strings("en"), title='</script><img src=x onerror="x">&')
    monkeypatch.setattr(backend, "webchat_strings", lambda language: hostile)
    template = backend.TEMPLATE_PATH.read_text(encoding="utf-8")
    versions = {"chat.css": "a", "chat.js": "b", "vendor": "c"}
    page = backend.render_chat_page(
        template, "en", backend.RasaEndpoint(RASA_URL), versions
    )
    assert "<img src=x" not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=&quot;x&quot;&gt;&amp;" in page
    # Inside the JSON data block "<" is escaped, so the block cannot be closed early.
    assert chat_config(page)["strings"]["title"] == hostile["title"]


# --- security headers ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_chat_page_security_headers(client: Client) -> None:
    resp = await client.get("/chat?" + urlencode({"t": "signed.token"}))
    headers = resp.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    directives = {
        d.strip().split(" ", 1)[0]: d.strip()
        for d in headers["content-security-policy"].split(";")
    }
    assert directives["default-src"] == "default-src 'none'"
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert directives["connect-src"] == (
        "connect-src 'self' http://localhost:5005 ws://localhost:5005"
    )
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "unsafe-eval" not in headers["content-security-policy"]


@pytest.mark.asyncio
async def test_page_uses_no_inline_script_or_style(client: Client) -> None:
    page = (await client.get("/chat")).text
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/health",  # JSON
        "/static/webchat/chat.js",  # static file
        "/no-such-page",  # error responses too
    ],
)
async def test_every_response_has_nosniff_and_no_referrer(client: Client, path: str) -> None:
    resp = await client.get(path)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"


# --- the page's own static files ------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_asset_the_page_references_is_served(client: Client) -> None:
    page = (await client.get("/chat")).text
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert len(urls) == 3, urls
    for url in urls:
        path, _, query = url.partition("?")
        resp = await client.get(f"{path}?{query}")
        assert resp.status == 200, url
        assert resp.body


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name, content_type",
    [
        ("chat.js", "text/javascript"),
        ("chat.css", "text/css"),
    ],
)
async def test_webchat_static(client: Client, name: str, content_type: str) -> None:
    resp = await client.get(f"/static/webchat/{name}")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith(content_type)
    assert resp.body == (backend.STATIC_DIR / name).read_bytes()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/static/webchat/chat.html",  # the template is not a static file
        "/static/webchat/missing.js",  # no such file
        "/static/webchat/..%2Fbackend.py",  # traversal, encoded
        "/static/webchat/../backend.py",  # traversal, plain
        "/static/webchat/.hidden.js",  # dotfiles
    ],
)
async def test_webchat_static_refuses_anything_else(client: Client, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404
    assert b"webchat_strings" not in resp.body


def test_page_script_never_uses_innerhtml() -> None:
    script = (backend.STATIC_DIR / "chat.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink


# --- the vendored socket.io client ------------------------------------------------------------


@pytest.mark.asyncio
async def test_vendor_socketio_is_served_from_node_modules(client: Client) -> None:
    resp = await client.get("/static/vendor/socket.io.min.js")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/javascript")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.body == FAKE_VENDOR_JS


@pytest.mark.asyncio
async def test_vendor_only_serves_listed_files(client: Client) -> None:
    for path in (
        "/static/vendor/socket.io.js",
        "/static/vendor/..%2F..%2Fpackage.json",
        "/static/vendor/package.json",
    ):
        assert (await client.get(path)).status == 404, path


@pytest.mark.asyncio
async def test_missing_node_modules_is_a_clear_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.web.backend")
    async with _client(make_settings(tmp_path)) as client:
        resp = await client.get("/static/vendor/socket.io.min.js")
        page = await client.get("/chat")
    assert resp.status == 500
    assert "run npm ci" in resp.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("run npm ci" in r.getMessage() for r in errors)
    # The page itself still renders (and tells the consumer the chat is unavailable).
    assert page.status == 200


def test_package_lock_pins_socketio_client_4() -> None:
    # Rasa 3.6 runs python-socketio 5 (Engine.IO v4): the client must be socket.io-client 4.x.
    manifest = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    pinned = manifest["dependencies"]["socket.io-client"]
    assert re.fullmatch(r"4\.\d+\.\d+", pinned), "pin an exact 4.x version"
    assert lock["packages"]["node_modules/socket.io-client"]["version"] == pinned


@pytest.mark.asyncio
async def test_real_node_modules_serve_socketio_client_4(real_client: Client) -> None:
    installed = PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    assert installed.is_file(), "node_modules is missing: run `npm ci` in the project root"
    resp = await real_client.get("/static/vendor/socket.io.min.js")
    assert resp.status == 200
    assert re.match(rb"/\*!\s*\n?\s*\* Socket\.IO v4\.", resp.body)
