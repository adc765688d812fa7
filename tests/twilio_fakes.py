"""Test doubles for Twilio's side: a recording HTTP transport for the real client, and a fake API server.

Nothing here talks to Twilio. `RecordingTransport` is handed to twilio-python's `Client` in place of
`AsyncTwilioHttpClient`, so the real client builds every request and we read what it would have
sent. `FakeTwilioServer` answers the Messages API on a local port, for processes started by a test
(the e2e stack reaches it through TWILIO_API_BASE). `signed_post` signs a webhook with twilio's own
RequestValidator, the way Twilio signs the requests it sends us.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class SentMessage:
    """One Messages API call: what a consumer would receive."""

    url: str
    to: str
    from_: str
    body: Optional[str]
    content_sid: Optional[str]
    content_variables: Optional[Dict[str, str]]
    auth: Optional[Tuple[str, str]]


def _message_from_form(url: str, form: Dict[str, str], auth) -> SentMessage:
    variables = form.get("ContentVariables")
    return SentMessage(url, form.get("To", ""), form.get("From", ""), form.get("Body"), form.get("ContentSid"),
                       json.loads(variables) if variables else None, auth)


def _created(form: Dict[str, str], number: int) -> str:
    return json.dumps({"sid": f"SM{number:032d}", "status": "queued", "to": form.get("To"),
                       "from": form.get("From"), "body": form.get("Body"), "account_sid": ACCOUNT_SID})


class RecordingTransport(AsyncHttpClient):
    """An async Twilio transport that records each request and answers like the Messages API."""

    def __init__(self, fail_with: Optional[int] = None) -> None:
        super().__init__(logging.getLogger("tests.twilio"), is_async=True)
        self.sent: List[SentMessage] = []
        self.fail_with = fail_with

    async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                      allow_redirects=False) -> Response:
        form = {key: str(value) for key, value in (data or {}).items()}
        if self.fail_with:
            return Response(self.fail_with, json.dumps({"code": 21610, "message": "unsubscribed recipient",
                                                        "status": self.fail_with}))
        self.sent.append(_message_from_form(url, form, auth))
        return Response(201, _created(form, len(self.sent)))

    def bodies(self, to: Optional[str] = None) -> List[str]:
        return [m.body for m in self.sent if to is None or m.to == to]


class FakeTwilioServer:
    """Twilio's Messages API on 127.0.0.1, recording what it is asked to send."""

    def __init__(self) -> None:
        self.sent: List[SentMessage] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                with fake._lock:
                    fake.sent.append(_message_from_form(self.path, form, None))
                    body = _created(form, len(fake.sent)).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FakeTwilioServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def messages(self, to: Optional[str] = None) -> List[SentMessage]:
        with self._lock:
            return [m for m in self.sent if to is None or m.to == to]

    def wait_for_replies(self, to: str, after: int, timeout: float = 90.0, settle: float = 1.5) -> List[SentMessage]:
        """Messages to `to` beyond the first `after`, once some arrived and none more for `settle` s."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.messages(to)), time.monotonic()
        while time.monotonic() < deadline:
            count = len(self.messages(to))
            if count != seen:
                seen, since = count, time.monotonic()
            elif count > after and time.monotonic() - since >= settle:
                break
            time.sleep(0.1)
        return self.messages(to)[after:]


def sign(url: str, params: Dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for a POST to `url`, computed by twilio's own validator."""
    return RequestValidator(token).compute_signature(url, params)


def signed_post(port: int, path: str, params: Dict[str, str], public_url: str, token: str = AUTH_TOKEN,
                signature: Optional[str] = None, body: Optional[bytes] = None) -> Tuple[int, str]:
    """POST a Twilio webhook to the local server, signed for its public URL (as Twilio would)."""
    data = body if body is not None else urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is None:
        signature = sign(public_url.rstrip("/") + path, params, token)
    if signature:
        headers["X-Twilio-Signature"] = signature
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def inbound_sms(sender: str, body: str, sid: str, to: str = "+15005550006", **extra: str) -> Dict[str, str]:
    """The parameters Twilio posts for an incoming message."""
    params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": to,
              "Body": body, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}
    params.update(extra)
    return params
