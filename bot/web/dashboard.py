"""The operations dashboard: collection KPIs by creditor and period, live, with charts and CSV export.

  GET /agent/dashboard                    the page (agents only: the console's session, else the login)
  GET /agent/api/dashboard/kpis           ?creditor=&start=&end=  the numbers as JSON (the page polls it)
  GET /agent/api/dashboard/export.csv     the same numbers and the daily series as CSV

Numbers come from bot.reporting.kpis (the ledger). Chart.js is served from node_modules by the
backend's vendor route (never a CDN). Access is the agent console's (bot.web.agent_auth): a signed-in
agent, or `Authorization: Bearer $AGENT_API_TOKEN` for scripts.
"""
from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import string
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.reporting.kpis import Filters, KpiReport

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboard"
DEFAULT_DAYS = 30
MAX_DAYS = 366
POLL_SECONDS = 15
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js)$")
_CONTENT_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

class BadFilters(ValueError):
    """A filter the dashboard cannot apply; the message says which and why."""


def parse_filters(args: Any, creditors: List[str], today: date) -> Filters:
    """Filters from the query string: `creditor` (empty: all), `start` and `end` (ISO dates, inclusive)."""
    try:
        end = date.fromisoformat(args.get("end")) if args.get("end") else today
        start = date.fromisoformat(args.get("start")) if args.get("start") else end - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise BadFilters("start and end are dates like 2026-11-01") from None
    if start > end:
        raise BadFilters("start is after end")
    if (end - start).days >= MAX_DAYS:
        raise BadFilters(f"the period is longer than {MAX_DAYS} days")
    creditor = args.get("creditor") or None
    if creditor is not None and creditor not in creditors:
        raise BadFilters(f"unknown creditor {creditor!r}")
    return Filters(start=start, end=end, creditor_id=creditor)


KPI_ROWS = (  # (key, label) in the order of the CSV export
    ("conversations_started", "Conversations started"),
    ("conversations_verified", "Conversations verified"),
    ("conversations_contained", "Resolved without an agent"),
    ("containment_rate", "Containment rate"),
    ("collected", "Collected"),
    ("collected_per_conversation", "Collected per conversation"),
    ("payments", "Payments"),
    ("settlements", "Settlements"),
    ("plans_created", "Plans created"),
    ("plans_active", "Plans active"),
    ("plans_broken", "Plans broken"),
    ("promises_made", "Promises to pay made"),
    ("promises_kept_7d", "Promises kept within 7 days"),
    ("promise_kept_rate", "Promise kept rate"),
    ("disputes_opened", "Disputes opened"),
    ("disputes_resolved", "Disputes resolved"),
    ("dispute_open_age_days", "Open disputes, mean age (days)"),
    ("handoffs", "Handoffs"),
    ("first_reply_minutes", "Time to first agent reply, median (minutes)"),
    ("opt_outs", "Opt-outs"),
)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def kpis_csv(filters: Filters, kpis: Dict[str, Any], daily: List[Dict[str, Any]]) -> str:
    """The KPIs (money in minor units, one row per currency), then the daily series."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["creditor", filters.creditor_id or "all", "start", filters.start.isoformat(),
                     "end", filters.end.isoformat()])
    writer.writerow(["kpi", "label", "currency", "value"])
    for key, label in KPI_ROWS:
        value = kpis.get(key)
        if isinstance(value, dict):
            for currency, minor in value.items():
                writer.writerow([f"{key}_minor", label, currency, minor])
        else:
            writer.writerow([key, label, "", _cell(value)])
    writer.writerow([])
    writer.writerow(["day", "conversations_started", "conversations_verified", "payments", "currency",
                     "collected_minor"])
    for day in daily:
        for currency, minor in (day["collected"] or {"": ""}).items():
            writer.writerow([day["day"], day["conversations_started"], day["conversations_verified"],
                             day["payments"], currency, minor])
    return out.getvalue()


def _file_version(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "missing"


def dashboard_blueprint(auth: Any, report_factory: Callable[[], KpiReport],
                        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Blueprint:
    """`auth` is the console's AgentAuth; `report_factory` gives the KpiReport on first use (no engine is
    made before a request needs it)."""
    bp = Blueprint("dashboard")
    template = string.Template((DASHBOARD_DIR / "dashboard.html").read_text(encoding="utf-8"))
    versions = {name: _file_version(DASHBOARD_DIR / "static" / name) for name in ("dashboard.css", "dashboard.js")}
    cache: Dict[str, KpiReport] = {}

    def report() -> KpiReport:
        if "report" not in cache:
            cache["report"] = report_factory()
        return cache["report"]

    def filters_of(request: Request) -> Filters:
        ids = [c["id"] for c in report().creditors()]
        return parse_filters(request.args, ids, clock().date())

    @bp.get("/agent/dashboard")
    @auth.require_agent
    async def page(request: Request) -> HTTPResponse:
        body = template.substitute(
            css_version=html.escape(versions["dashboard.css"]), js_version=html.escape(versions["dashboard.js"]),
            poll_seconds=POLL_SECONDS,
        )
        return response.html(body, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                            "Cache-Control": "no-store"})

    def kpis_document(filters: Filters) -> Dict[str, Any]:
        return {
            "filters": {"creditor": filters.creditor_id, "start": filters.start.isoformat(),
                        "end": filters.end.isoformat()},
            "creditors": report().creditors(),
            "kpis": report().kpis(filters),
            "daily": report().daily(filters),
            "generated_at": clock().isoformat(timespec="seconds"),
        }

    @bp.get("/agent/api/dashboard/kpis")
    @auth.require_agent
    async def kpis(request: Request) -> HTTPResponse:
        try:
            filters = filters_of(request)
        except BadFilters as error:
            return response.json({"error": str(error)}, status=400)
        # The queries block: a worker thread keeps them off the loop that also serves /nlg.
        data = await asyncio.to_thread(kpis_document, filters)
        return response.json(data, headers={"Cache-Control": "no-store"})

    @bp.get("/agent/api/dashboard/export.csv")
    @auth.require_agent
    async def export(request: Request) -> HTTPResponse:
        try:
            filters = filters_of(request)
        except BadFilters as error:
            return response.text(str(error), status=400)
        body = await asyncio.to_thread(lambda: kpis_csv(filters, report().kpis(filters), report().daily(filters)))
        name = f"kpis-{filters.creditor_id or 'all'}-{filters.start}-{filters.end}.csv"
        return response.text(body, content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})

    @bp.get("/static/dashboard/<name:str>")
    async def static(request: Request, name: str) -> HTTPResponse:
        match = _STATIC_NAME.match(name)
        path = DASHBOARD_DIR / "static" / name
        if not match or not path.is_file():
            return response.text("Not found", status=404)
        return await response.file(path, mime_type=_CONTENT_TYPES[match.group(1)],
                                   headers={"Cache-Control": "public, max-age=3600"})

    return bp


def ledger_report() -> KpiReport:
    """The report over the migrated ledger the rest of the backend uses."""
    from bot import bootstrap

    return KpiReport(bootstrap.ledger().engine)
