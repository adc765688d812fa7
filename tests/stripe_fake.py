"""A stateful stand-in for Stripe's API on 127.0.0.1, reached by stripe-python's own HTTP transport.

It keeps what Stripe keeps and what the fault-injection tests count: every object created under each
idempotency key (a second creation under one key is the bug these tests hunt), the charges it made
(money that really moved), the checkout sessions, and the events Stripe would send as webhooks. A
request repeated with the same key is answered with the first answer, as Stripe does.

Faults are queued per path and taken one per request:
- "drop": the request is processed, then the connection is closed with no answer (a response lost
  on the way back: the caller cannot tell whether anything happened);
- "hang": processed, then no answer until `release` is set (the caller is killed meanwhile);
- "5xx": answered 500 without processing (Stripe having a bad minute);
- "slow": processed, answered after `slow_seconds` (longer than the client's timeout).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

DECLINED_METHODS = {"pm_card_chargeDeclinedInsufficientFunds"}


def _nested(form: Dict[str, str], prefix: str) -> Dict[str, str]:
    """metadata[account_ref]=... -> {"account_ref": ...} for one bracketed prefix."""
    start = f"{prefix}["
    return {key[len(start):-1]: value for key, value in form.items()
            if key.startswith(start) and "[" not in key[len(start):]}


class StripeProvider:
    def __init__(self, webhook_secret: str, slow_seconds: float = 8.0) -> None:
        self.webhook_secret = webhook_secret
        self.slow_seconds = slow_seconds
        self.creations: Counter = Counter()  # idempotency key -> objects created under it
        self.charges: Dict[str, Dict[str, Any]] = {}  # payment intent id -> the money that moved
        self.sessions: Dict[str, Dict[str, Any]] = {}
        self.events: List[Dict[str, Any]] = []
        self.requests: List[Tuple[str, Optional[str], str]] = []  # (path, idempotency key, what happened)
        self.release = threading.Event()
        self.processed = threading.Event()  # set when a "hang" request has been processed
        self._faults: List[List[Any]] = []
        self._replies: Dict[str, Tuple[int, Dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                key = self.headers.get("Idempotency-Key")
                fault = provider._take_fault(self.path)
                if fault == "5xx":
                    provider._log(self.path, key, "500")
                    return self._answer(500, {"error": {"type": "api_error", "message": "An unknown error occurred"}})
                status, body = provider._process(self.path, form, key)
                if fault == "drop":
                    provider._log(self.path, key, "dropped")
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "hang":
                    provider._log(self.path, key, "hung")
                    provider.processed.set()
                    provider.release.wait(120)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "slow":
                    time.sleep(provider.slow_seconds)
                provider._log(self.path, key, str(status))
                self._answer(status, body)

            def _answer(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{next(provider._ids)}")
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- running ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "StripeProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def fault(self, path: str, kind: str, times: int = 1) -> None:
        """The next `times` requests to `path` meet `kind` (drop | hang | 5xx | slow)."""
        with self._lock:
            self._faults.append([path, kind, times])

    def _take_fault(self, path: str) -> Optional[str]:
        with self._lock:
            for fault in self._faults:
                if fault[0] == path and fault[2] > 0:
                    fault[2] -= 1
                    return fault[1]
        return None

    def _log(self, path: str, key: Optional[str], outcome: str) -> None:
        with self._lock:
            self.requests.append((path, key, outcome))

    # --- the API ----------------------------------------------------------------------------------

    def _process(self, path: str, form: Dict[str, str], key: Optional[str]) -> Tuple[int, Dict[str, Any]]:
        with self._lock:
            if key and key in self._replies:
                return self._replies[key]  # Stripe replays the first answer for the same key
            answer = self._create(path, form)
            if key:
                self.creations[key] += 1
                self._replies[key] = answer
            return answer

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _create(self, path: str, form: Dict[str, str]) -> Tuple[int, Dict[str, Any]]:
        if path == "/v1/customers":
            return 200, {"id": self._new_id("cus"), "object": "customer"}
        if path == "/v1/checkout/sessions":
            session_id = self._new_id("cs")
            amount = form.get("line_items[0][price_data][unit_amount]")
            session = {
                "id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.test/{session_id}",
                "mode": form.get("mode"), "status": "open", "metadata": _nested(form, "metadata"),
                "amount_total": int(amount) if amount else 0,
                "currency": form.get("line_items[0][price_data][currency]") or form.get("currency"),
                "customer": form.get("customer"),
                "intent_metadata": _nested(form, "payment_intent_data[metadata]"),
                "save_method": form.get("payment_intent_data[setup_future_usage]") == "off_session",
            }
            self.sessions[session_id] = session
            return 200, {k: v for k, v in session.items() if k not in ("intent_metadata", "save_method")}
        if path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
            session = self.sessions.get(path.split("/")[-2])
            if session is None or session["status"] != "open":
                return 400, {"error": {"type": "invalid_request_error", "message": "not open"}}
            session["status"] = "expired"
            return 200, {"id": session["id"], "object": "checkout.session", "status": "expired"}
        if path == "/v1/payment_intents":
            intent_id = self._new_id("pi")
            metadata = _nested(form, "metadata")
            if form.get("payment_method") in DECLINED_METHODS:
                return 402, {"error": {"type": "card_error", "code": "card_declined",
                                       "decline_code": "insufficient_funds", "message": "Declined",
                                       "payment_intent": {"id": intent_id, "object": "payment_intent"}}}
            self._charge(intent_id, int(form["amount"]), form["currency"], metadata, form.get("payment_method"),
                         form.get("customer"))
            return 200, {"id": intent_id, "object": "payment_intent", "status": "succeeded",
                         "amount": int(form["amount"]), "currency": form["currency"], "metadata": metadata}
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}

    def _charge(self, intent_id: str, amount: int, currency: str, metadata: Dict[str, str],
                payment_method: Optional[str], customer: Optional[str]) -> None:
        self.charges[intent_id] = {"amount": amount, "currency": currency,
                                   "request_id": metadata.get("payment_request_id")}
        self._event("payment_intent.succeeded", {
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": currency, "status": "succeeded", "payment_method": payment_method, "customer": customer,
            "metadata": metadata})

    def _event(self, kind: str, obj: Dict[str, Any]) -> None:
        self.events.append({"id": self._new_id("evt"), "object": "event", "type": kind,
                            "created": int(time.time()), "data": {"object": obj}})

    # --- the consumer on Stripe's hosted page -------------------------------------------------------

    def pay(self, session_id: str, payment_method: str = "pm_card_visa") -> str:
        """The consumer pays on the checkout page: one charge, and the events Stripe sends for it."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise RuntimeError(f"checkout session {session_id} is {session['status']}")
            session["status"] = "complete"
            intent_id = self._new_id("pi")
            customer = session["customer"] or (self._new_id("cus") if session["save_method"] else None)
            self._charge(intent_id, session["amount_total"], session["currency"], session["intent_metadata"],
                         payment_method if session["save_method"] else None, customer)
            self._event("checkout.session.completed", {
                "id": session_id, "object": "checkout.session", "mode": "payment", "payment_status": "paid",
                "payment_intent": intent_id, "amount_total": session["amount_total"],
                "currency": session["currency"], "customer": customer, "metadata": session["metadata"]})
            return intent_id

    def signed(self, event: Dict[str, Any]) -> Tuple[bytes, str]:
        """The webhook body and Stripe-Signature header, as Stripe signs them."""
        payload = json.dumps(event)
        stamp = int(time.time())
        digest = hmac.new(self.webhook_secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
        return payload.encode(), f"t={stamp},v1={digest}"
