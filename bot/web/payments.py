"""Payment pages and the Stripe webhook on the backend, plus the payments scheduler.

- `GET /pay/<id>`: the sandbox's hosted payment page (a plain, accessible, phone-sized HTML form that
  posts `card_number`, `exp`, `cvc` back to its own URL), or a status page when the request is paid,
  expired, replaced, or handled by Stripe's own page. English or Spanish by the consumer's language.
- `POST /pay/<id>`: the card is handed to the sandbox in memory and forgotten: never logged, stored or
  echoed back (the form comes back empty after a decline).
- `GET /pay/<id>/result`: where Stripe Checkout returns the consumer (success_url / cancel_url).
- `POST /webhooks/stripe`: raw body + `Stripe-Signature` verified with stripe.Webhook.construct_event
  and STRIPE_WEBHOOK_SECRET; unverifiable -> 400 and nothing changes; duplicates are answered 200.
- The scheduler: `PaymentsService.run_due` every `scheduler_seconds` (0: off) as a background task, then
  `also_due()` when given (the outbound service's delayed reminders).

Blocking service calls run in worker threads (asyncio.to_thread); notifications queued by a page or a
webhook are delivered after the response is sent.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import logging
from datetime import timezone
from typing import Any, Awaitable, Callable, Dict, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.i18n import format_money, format_moment, locale_for
from bot.payments import model as m
from bot.payments.gateway import InvalidWebhook
from bot.payments.labels import purpose_label
from bot.payments.sandbox import SandboxGateway
from bot.ui_text import payment_page_strings, ui_language

logger = logging.getLogger(__name__)

ServiceProvider = Callable[[], Any]  # returns the PaymentsService (bot.bootstrap.payments)

# Which message a decline or input code shows; codes not listed read as a plain decline.
_ERROR_KEYS = {"insufficient_funds": "insufficient_funds", "invalid_number": "invalid_number",
               "invalid_expiry": "invalid_expiry", "expired_card": "expired_card", "invalid_cvc": "invalid_cvc"}

PAGE_CSS = (
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f3f5f7;"
    "color:#1b2430}"
    "main{max-width:28rem;margin:0 auto;padding:1.25rem}"
    ".card{background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    ".brand{margin:0 0 .25rem;font-weight:600;color:#35597a}"
    "h1{font-size:1.35rem;margin:.25rem 0 1rem}"
    "dl{margin:0 0 1rem;display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem}"
    "dt{color:#4a5663}dd{margin:0;font-weight:600}"
    ".amount{font-size:1.6rem}"
    "label{display:block;font-weight:600;margin:.75rem 0 .25rem}"
    "input{width:100%;font-size:1.1rem;padding:.7rem;border:1px solid #8a96a3;border-radius:8px}"
    "input:focus{outline:3px solid #8cb4ff;border-color:#1f5fbf}"
    ".row{display:flex;gap:.75rem}.row>div{flex:1}"
    "button{width:100%;margin-top:1.25rem;padding:.85rem;font-size:1.1rem;font-weight:600;color:#fff;"
    "background:#1f5fbf;border:0;border-radius:8px;cursor:pointer}"
    "button:focus{outline:3px solid #8cb4ff;outline-offset:2px}"
    ".alert{background:#fdecea;color:#8a1c12;border-left:4px solid #c62828;padding:.75rem;border-radius:6px}"
    ".ok{background:#e8f5e9;color:#1b5e20;border-left:4px solid #2e7d32;padding:.75rem;border-radius:6px}"
    ".note{color:#4a5663;font-size:.9rem}.small{font-size:.85rem;color:#4a5663}"
)
_CSS_HASH = base64.b64encode(hashlib.sha256(PAGE_CSS.encode()).digest()).decode()
PAGE_HEADERS = {
    "Content-Security-Policy": (f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    # The URL is a capability and the page may show an amount owed: never cache it anywhere.
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def _zone(name: Optional[str]):
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def _strings(language: str) -> Dict[str, str]:
    return payment_page_strings(language)


def _page(language: str, body: str, status: int = 200) -> HTTPResponse:
    strings = _strings(language)
    document = (
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{html.escape(strings['title'])}</title><style>{PAGE_CSS}</style></head>"
        f'<body><main><div class="card"><p class="brand">Resolve</p>{body}</div></main></body></html>'
    )
    return response.html(document, status=status, headers=dict(PAGE_HEADERS))


def _message(language: str, heading: str, text: str, status: int = 200, kind: str = "") -> HTTPResponse:
    strings = _strings(language)
    css = f' class="{kind}"' if kind else ""
    body = f'<h1>{html.escape(strings[heading])}</h1><p{css} role="status">{html.escape(text)}</p>'
    return _page(language, body, status)


def _details(view: m.PaymentRequestView, strings: Dict[str, str], locale: str) -> str:
    label = purpose_label(view.purpose, view.language, view.installment_seq, view.installment_count)
    rows = []
    if view.amount.minor:
        rows.append((strings["amount_label"], f'<span class="amount">{html.escape(format_money(view.amount, locale))}'
                                              "</span>"))
    rows.append((strings["for_label"], html.escape(label)))
    rows.append((strings["account_label"], html.escape(view.account_ref)))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def render_form(view: m.PaymentRequestView, error_code: Optional[str] = None, sandbox: bool = True,
                status: int = 200) -> HTTPResponse:
    """The payment form. After a decline it comes back empty: the card number is never echoed."""
    language = ui_language(view.language)
    strings, locale = _strings(language), locale_for(language)
    amount = format_money(view.amount, locale)
    parts = [f"<h1>{html.escape(strings['heading'].format(creditor=view.creditor_name))}</h1>"]
    if view.creditor_is_agency:
        parts.append(f'<p class="small">{html.escape(strings["collector"])}</p>')
    parts.append(_details(view, strings, locale))
    if view.amount.minor == 0:
        parts.append(f'<p class="note">{html.escape(strings["setup_note"])}</p>')
    if error_code:
        message = strings[_ERROR_KEYS.get(error_code, "declined")]
        parts.append(f'<p class="alert" role="alert" id="pay-error">{html.escape(message)}</p>')
    described = ' aria-describedby="pay-error" aria-invalid="true"' if error_code else ""
    button = strings["pay"].format(amount=amount) if view.amount.minor else strings["save"]
    parts.append(
        f'<form method="post" action="/pay/{html.escape(view.id)}" autocomplete="on">'
        f'<label for="card_number">{html.escape(strings["card_number"])}</label>'
        '<input id="card_number" name="card_number" type="text" inputmode="numeric" autocomplete="cc-number" '
        f'pattern="[0-9 \\-]*" maxlength="23" required{described}>'
        '<div class="row"><div>'
        f'<label for="exp">{html.escape(strings["exp"])}</label>'
        '<input id="exp" name="exp" type="text" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/YY" '
        'maxlength="7" required></div><div>'
        f'<label for="cvc">{html.escape(strings["cvc"])}</label>'
        '<input id="cvc" name="cvc" type="password" inputmode="numeric" autocomplete="cc-csc" maxlength="4" '
        'required></div></div>'
        f'<button type="submit" id="pay-button">{html.escape(button)}</button></form>'
    )
    expires = format_moment(view.expires_at, locale, tzinfo=_zone(view.consumer_timezone))
    parts.append(f'<p class="note">{html.escape(strings["expires"].format(moment=expires))}</p>')
    parts.append(f'<p class="small">{html.escape(strings["secure"])}</p>')
    if sandbox:
        parts.append(f'<p class="small">{html.escape(strings["sandbox"])}</p>')
    return _page(language, "".join(parts), status)


def render_status(view: m.PaymentRequestView) -> HTTPResponse:
    """What a request that cannot be paid (any more) shows."""
    language = ui_language(view.language)
    strings, locale = _strings(language), locale_for(language)
    amount = format_money(view.amount, locale)
    if view.status == "succeeded":
        if view.amount.minor == 0:
            return _message(language, "saved_heading", strings["saved_body"], kind="ok")
        body = (f'<h1>{html.escape(strings["paid_heading"])}</h1>{_details(view, strings, locale)}'
                f'<p class="ok" role="status" id="pay-result">{html.escape(strings["paid_body"].format(amount=amount))}'
                "</p>")
        return _page(language, body)
    if view.status == "refunded":
        return _message(language, "refunded_heading", strings["refunded_body"])
    if view.status in ("expired", "cancelled"):
        return _message(language, "closed_heading", strings["closed_body"], status=410)
    if view.status == "failed":
        return _message(language, "unpaid_heading", strings["unpaid_body"])
    return _message(language, "pending_heading", strings["pending_body"])


def payments_blueprint(service_provider: ServiceProvider, scheduler_seconds: float = 0,
                       also_due: Optional[Callable[[], Awaitable[Any]]] = None) -> Blueprint:
    """Routes over the service `service_provider()` returns (built lazily, on first use, in a thread)."""
    bp = Blueprint("payments")
    state: Dict[str, Any] = {}

    async def service():
        if "service" not in state:
            state["service"] = await asyncio.to_thread(service_provider)
        return state["service"]

    background: set = set()  # strong references: the loop keeps only weak ones to its tasks

    def deliver_later(request: Request, svc, ids=None) -> None:
        """After the response: send what the change queued (ids), or everything due (None)."""
        if ids is None or ids:
            task = asyncio.ensure_future(asyncio.to_thread(svc.deliver_notifications, None,
                                                           None if ids is None else list(ids)))
            background.add(task)
            task.add_done_callback(background.discard)

    async def lookup(svc, request_id: str) -> Optional[m.PaymentRequestView]:
        try:
            return await asyncio.to_thread(svc.payment_request, request_id)
        except m.UnknownPaymentRequest:
            return None

    @bp.get("/pay/<request_id:str>")
    async def pay_page(request: Request, request_id: str) -> HTTPResponse:
        svc = await service()
        view = await lookup(svc, request_id)
        if view is None:
            return _message("en", "unknown_heading", _strings("en")["unknown_body"], status=404)
        sandbox = isinstance(svc.gateway, SandboxGateway)
        payable = view.status in ("open", "failed") and view.expires_at > svc.clock()
        if payable and not sandbox and view.url:
            return response.redirect(view.url, status=303)  # Stripe's own hosted page
        if payable and sandbox:
            return render_form(view)
        if view.status in ("open", "failed"):
            return _message(view.language, "closed_heading", _strings(view.language)["closed_body"], status=410)
        return render_status(view)

    @bp.post("/pay/<request_id:str>")
    async def pay_submit(request: Request, request_id: str) -> HTTPResponse:
        svc = await service()
        form = request.form or {}
        card_number, exp, cvc = form.get("card_number", ""), form.get("exp", ""), form.get("cvc", "")
        try:
            outcome = await asyncio.to_thread(svc.complete_sandbox_payment, request_id, card_number, exp, cvc, False)
        except m.UnknownPaymentRequest:
            return _message("en", "unknown_heading", _strings("en")["unknown_body"], status=404)
        except Exception:  # never let a traceback (or its locals) near the card number
            logger.error("sandbox payment for request %s failed unexpectedly", request_id)
            return _message("en", "error_heading", _strings("en")["error_body"], status=500)
        view = outcome.request
        if outcome.status == "succeeded":
            deliver_later(request, svc)
            return render_status(view)
        if outcome.status == "declined":
            deliver_later(request, svc)
            return render_form(view, outcome.code)
        if outcome.status == "invalid":
            return render_form(view, outcome.code, status=422)
        if view.status in ("open", "failed"):  # expired by time
            return _message(view.language, "closed_heading", _strings(view.language)["closed_body"], status=410)
        return render_status(view)

    @bp.get("/pay/<request_id:str>/result")
    async def pay_result(request: Request, request_id: str) -> HTTPResponse:
        svc = await service()
        view = await lookup(svc, request_id)
        if view is None:
            return _message("en", "unknown_heading", _strings("en")["unknown_body"], status=404)
        return render_status(view)

    @bp.post("/webhooks/stripe")
    async def stripe_webhook(request: Request) -> HTTPResponse:
        svc = await service()
        try:
            event = svc.parse_webhook(request.body, request.headers.get("stripe-signature"))
        except InvalidWebhook as exc:
            logger.warning("refused a Stripe webhook: %s", exc)
            return response.json({"error": "invalid webhook"}, status=400)
        applied = await asyncio.to_thread(svc.handle_gateway_event, event, False)
        deliver_later(request, svc, applied.notifications)
        return response.json({"received": True, "duplicate": applied.duplicate, "pending": applied.pending})

    if scheduler_seconds and scheduler_seconds > 0:
        tasks: Dict[str, asyncio.Task] = {}

        async def scheduler_loop() -> None:
            while True:
                await asyncio.sleep(scheduler_seconds)
                try:
                    svc = await service()
                    summary = await asyncio.to_thread(svc.run_due)
                    if summary.charged or summary.errors or summary.promises_kept or summary.promises_broken:
                        logger.info("%s", summary)
                    if also_due is not None:
                        await also_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("payments scheduler run failed; next run in %ss", scheduler_seconds)

        @bp.listener("after_server_start")
        async def start_scheduler(app: Sanic, _loop) -> None:
            tasks["scheduler"] = asyncio.ensure_future(scheduler_loop())

        @bp.listener("before_server_stop")
        async def stop_scheduler(app: Sanic, _loop) -> None:
            task = tasks.pop("scheduler", None)
            if task is not None:
                task.cancel()

    return bp


def install_payments(app: Sanic, settings: Any) -> None:
    """Register the payment routes and the scheduler on the backend app (bot.web.server.build_app)."""
    from bot import bootstrap

    app.blueprint(payments_blueprint(bootstrap.payments, settings.payments_scheduler_seconds,
                                     also_due=lambda: bootstrap.outbound().send_delayed()))
