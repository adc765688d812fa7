"""An in-process ASGI client with POST bodies, headers and a cookie jar (for the agent console tests).

Sanic 21.12's own test client needs sanic-testing, which this venv cannot take (see test_backend.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

from sanic import Sanic


@dataclass
class Reply:
    status: int
    headers: Dict[str, str]
    cookies: List[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.cookies: Dict[str, str] = {}
        self._lifespan_in: "asyncio.Queue[dict]" = asyncio.Queue()
        self._lifespan_out: "asyncio.Queue[dict]" = asyncio.Queue()
        self._task: Optional[asyncio.Task] = None

    async def __aenter__(self) -> "Client":
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self._task = asyncio.ensure_future(self.app(scope, self._lifespan_in.get, self._lifespan_out.put))
        await self._lifespan_in.put({"type": "lifespan.startup"})
        assert (await asyncio.wait_for(self._lifespan_out.get(), 10))["type"] == "lifespan.startup.complete"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._lifespan_out.get(), 10)
        with contextlib.suppress(Exception):  # Sanic 21.12 trips over the lifespan scope afterwards
            await asyncio.wait_for(self._task, 10)

    async def get(self, path: str, headers: Optional[Dict[str, str]] = None) -> Reply:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, json_body: Any = None, form: Optional[Dict[str, str]] = None,
                   raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Reply:
        headers = dict(headers or {})
        if form is not None:
            raw = urlencode(form).encode()
            headers.setdefault("content-type", "application/x-www-form-urlencoded")
        elif json_body is not None:
            raw = json.dumps(json_body).encode()
            headers.setdefault("content-type", "application/json")
        return await self.request("POST", path, raw or b"", headers)

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: Optional[Dict[str, str]] = None) -> Reply:
        path, _, query = path.partition("?")
        all_headers = {"host": "testserver", "user-agent": "tests", **(headers or {})}
        if self.cookies and "cookie" not in all_headers:
            all_headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            all_headers["content-length"] = str(len(body))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"), "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in all_headers.items()],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }
        sent: List[dict] = []
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            return chunks.pop(0) if chunks else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        await asyncio.wait_for(self.app(scope, receive, send), 30)
        start = next(m for m in sent if m["type"] == "http.response.start")
        reply_headers: Dict[str, str] = {}
        cookies: List[str] = []
        for key, value in start["headers"]:
            name, text = key.decode("latin-1").lower(), value.decode("latin-1")
            if name == "set-cookie":
                cookies.append(text)
                self._remember(text)
            reply_headers[name] = text
        body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Reply(start["status"], reply_headers, cookies, body_out)

    def _remember(self, header: str) -> None:
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            if morsel.value and morsel["max-age"] != "0":
                self.cookies[name] = morsel.value
            else:
                self.cookies.pop(name, None)
