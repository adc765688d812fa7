"""The dashboard's routes (bot/web/dashboard.py): agents only, filters checked, JSON and CSV from the ledger."""
import csv
import io
from datetime import date, datetime, timezone
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from sanic import Sanic
from sqlalchemy import insert, select

from bot.ledger import schema as t
from bot.ledger.agents import SqlAgents
from bot.reporting.kpis import KpiReport
from bot.security import hash_password
from bot.web.agent_auth import AgentAuth, agent_login_blueprint
from bot.web.dashboard import BadFilters, dashboard_blueprint, parse_filters
from tests.web.asgi_client import Client

TOKEN = "agent-api-token"
AGENT = {"Authorization": f"Bearer {TOKEN}"}
TODAY = date(2026, 11, 7)
NOW = datetime(2026, 11, 7, 12, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest_asyncio.fixture
async def client(engine, demo_ledger):
    with engine.begin() as db:
        bw = db.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == "BW-10001")).scalar_one()
        db.execute(insert(t.ledger_entries), [dict(account_id=bw, kind="payment", amount_minor=-4250, currency="USD",
                                                   posted_at=datetime(2026, 11, 5, 9, tzinfo=timezone.utc))])
    agents = SqlAgents(engine)
    agents.add_agent("jlee", "J. Lee", hash_password(PASSWORD), NOW)
    auth = AgentAuth(agents, "s" * 32, TOKEN)
    app = Sanic("dashboard_test")
    app.blueprint(agent_login_blueprint(auth))
    app.blueprint(dashboard_blueprint(auth, lambda: KpiReport(engine), clock=lambda: NOW))
    async with Client(app) as client:
        yield client


async def get(client, path, query=None, headers=None):
    return await client.get(path + ("?" + urlencode(query) if query else ""), headers=headers)


@pytest.mark.parametrize("path", ["/agent/dashboard", "/agent/api/dashboard/kpis", "/agent/api/dashboard/export.csv"])
async def test_every_route_needs_an_agent(client, path):
    assert (await get(client, path)).status == 401
    assert (await get(client, path, headers={"Authorization": "Bearer wrong"})).status == 401


async def test_a_signed_in_agent_sees_the_dashboard(client):
    assert "/agent/login?next=/agent/dashboard" in (await get(client, "/agent/dashboard")).text
    signed_in = await client.post("/agent/login", form={"username": "jlee", "password": PASSWORD,
                                                        "next": "/agent/dashboard"})
    assert signed_in.status == 303 and signed_in.headers["location"] == "/agent/dashboard"
    assert (await get(client, "/agent/dashboard")).status == 200
    assert (await get(client, "/agent/api/dashboard/kpis")).json()["kpis"]["payments"] == 1


async def test_the_page_loads_chart_js_from_our_own_server(client):
    page = await get(client, "/agent/dashboard", headers=AGENT)
    assert page.status == 200
    assert '<script src="/static/vendor/chart.umd.min.js"></script>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'data-kpi="collected"' in page.text


async def test_kpis_as_json_for_one_creditor(client):
    reply = await get(client, "/agent/api/dashboard/kpis", {"creditor": "brightwork", "start": "2026-11-01"}, AGENT)
    data = reply.json()
    assert data["filters"] == {"creditor": "brightwork", "start": "2026-11-01", "end": "2026-11-07"}
    assert data["kpis"]["collected"] == {"USD": 4250} and data["kpis"]["payments"] == 1
    assert len(data["daily"]) == 7 and data["daily"][4]["collected"] == {"USD": 4250}
    other = (await get(client, "/agent/api/dashboard/kpis", {"creditor": "northwind"}, AGENT)).json()
    assert other["kpis"]["payments"] == 0


@pytest.mark.parametrize("query, error", [
    ({"start": "yesterday"}, "start and end are dates like 2026-11-01"),
    ({"start": "2026-11-08", "end": "2026-11-01"}, "start is after end"),
    ({"creditor": "acme"}, "unknown creditor 'acme'"),
])
async def test_bad_filters_are_refused_with_the_reason(client, query, error):
    reply = await get(client, "/agent/api/dashboard/kpis", query, AGENT)
    assert reply.status == 400 and reply.json() == {"error": error}


async def test_csv_export_has_every_kpi_and_the_daily_series(client):
    reply = await get(client, "/agent/api/dashboard/export.csv", {"start": "2026-11-01"}, AGENT)
    assert reply.headers["content-type"].startswith("text/csv")
    assert 'filename="kpis-all-2026-11-01-2026-11-07.csv"' in reply.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(reply.text)))
    values = {row[0]: row[3] for row in rows[2:] if len(row) == 4}
    assert values["collected_minor"] == "4250" and values["payments"] == "1" and values["opt_outs"] == "0"
    assert ["2026-11-05", "0", "0", "1", "USD", "4250"] in rows


def test_default_period_is_the_last_30_days():
    filters = parse_filters({}, [], TODAY)
    assert (filters.start, filters.end, filters.creditor_id) == (date(2026, 10, 9), TODAY, None)
    with pytest.raises(BadFilters):
        parse_filters({"start": "2025-01-01"}, [], TODAY)
