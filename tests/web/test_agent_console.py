"""The agent console and API in-process: authentication on every route, login, CSRF, take/reply/resolve.

Rasa is replaced by a recording double of the `conversations` port (pause, resume, say); the ledger
is real (SQLite and PostgreSQL).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sanic import Sanic

from bot.domain.communications import Communication
from bot.ledger.agents import SqlAgents
from bot.ledger.disputes import SqlDisputes
from bot.services.disputes import Disputes
from bot.security import hash_password
from bot.services.agent_desk import AgentDesk
from bot.web.agent_auth import SESSION_COOKIE, AgentAuth
from bot.web.agent_console import install_agent_console
from bot.web.backend import create_backend_app
from tests.web.asgi_client import Client

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret"
TOKEN = "agent-api-token-for-tests"
PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)


class RecordingConversations:
    """What the desk asked Rasa to do, in order."""

    def __init__(self) -> None:
        self.calls = []

    def pause(self, conversation_id):
        self.calls.append(("pause", conversation_id))

    def resume(self, conversation_id):
        self.calls.append(("resume", conversation_id))

    def say(self, conversation_id, text, agent):
        self.calls.append(("say", conversation_id, text, agent))


class NamingCatalogs:
    """Renders a response as its name and arguments: enough to see which notice went out."""

    def render(self, response, language, channel, arguments):
        return {"text": f"{response} {language} {dict(arguments)['amount']}"}


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch):
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
def world(demo_ledger):
    agents = SqlAgents(demo_ledger.engine)
    agents.add_agent("jlee", "J. Lee", hash_password(PASSWORD), NOW)
    agents.add_agent("ana", "Ana", hash_password(PASSWORD), NOW)
    conversations = RecordingConversations()
    disputes = Disputes(SqlDisputes(demo_ledger.engine), clock=lambda: NOW)
    desk = AgentDesk(demo_ledger, agents, conversations, disputes=disputes, catalogs=NamingCatalogs(),
                     clock=lambda: NOW)
    auth = AgentAuth(agents, SECRET, TOKEN)
    app = create_backend_app(SimpleNamespace(rasa_public_url="http://localhost:5005", project_root=ROOT))
    install_agent_console(app, auth, lambda: desk)
    handoff_id = demo_ledger.open_handoff(
        "+14155550101", "sms", "BW-10001", "dispute_not_mine",
        [{"role": "user", "text": "this is not my debt"}], NOW, priority=2)
    demo_ledger.log_communications([Communication("in", "sms", "+14155550101", "+14155550101", "BW-10001", "message",
                                                  "this is not my debt", NOW)])
    return SimpleNamespace(app=app, ledger=demo_ledger, agents=agents, conversations=conversations,
                           handoff_id=handoff_id, disputes=disputes)


BEARER = {"authorization": f"Bearer {TOKEN}"}


async def login(client: Client, username: str = "jlee", password: str = PASSWORD):
    return await client.post("/agent/login", form={"username": username, "password": password, "next": "/agent/"})


async def csrf_of(client: Client) -> str:
    page = (await client.get("/agent/")).text
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)


# --- authentication ---------------------------------------------------------------------------------


async def test_every_agent_route_answers_401_without_credentials(world):
    routes = [(route.path, method) for route in world.app.router.routes for method in route.methods
              if route.path.strip("/").startswith("agent") and method != "OPTIONS"]
    public = {("agent/login", "GET"), ("agent/login", "POST")}  # the sign-in form itself
    checked = 0
    async with Client(world.app) as client:
        for path, method in routes:
            if (path.strip("/"), method) in public:
                continue
            url = "/" + re.sub(r"<[^>]+>", "1", path.strip("/")) + ("/" if path.endswith("/") else "")
            for headers in ({}, {"authorization": "Bearer wrong-token"}, {"cookie": f"{SESSION_COOKIE}=forged.1.x"}):
                reply = await client.request(method, url, b"{}", headers)
                assert reply.status == 401, (method, url, headers, reply.status)
            checked += 1
    assert checked >= 8  # pages, logout and the whole API


async def test_an_api_401_is_json_and_a_page_401_points_at_the_login(world):
    async with Client(world.app) as client:
        api = await client.get("/agent/api/handoffs")
        page = await client.get("/agent/")
    assert api.json()["error"].startswith("authentication required")
    assert api.headers["www-authenticate"].startswith("Bearer")
    assert "/agent/login?next=/agent/" in page.text


async def test_a_wrong_password_or_unknown_agent_does_not_sign_in(world):
    async with Client(world.app) as client:
        assert (await login(client, password="wrong password")).status == 401
        assert (await login(client, username="nobody")).status == 401
        assert SESSION_COOKIE not in client.cookies
        assert (await client.get("/agent/")).status == 401


async def test_login_sets_an_httponly_strict_expiring_cookie_and_logout_clears_it(world):
    async with Client(world.app) as client:
        reply = await login(client)
        assert reply.status == 303 and reply.headers["location"] == "/agent/"
        cookie = next(c for c in reply.cookies if c.startswith(SESSION_COOKIE))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie
        queue = await client.get("/agent/")
        assert queue.status == 200 and "Signed in as jlee" in queue.text
        csrf = await csrf_of(client)
        assert (await client.post("/agent/logout", form={"csrf_token": csrf})).status == 303
        assert (await client.get("/agent/")).status == 401


async def test_login_never_redirects_off_the_console(world):
    async with Client(world.app) as client:
        reply = await client.post("/agent/login", form={"username": "jlee", "password": PASSWORD,
                                                         "next": "https://evil.example/"})
    assert reply.headers["location"] == "/agent/"


async def test_a_session_post_needs_the_csrf_token_and_the_same_origin(world):
    async with Client(world.app) as client:
        await login(client)
        csrf = await csrf_of(client)
        url = f"/agent/api/handoffs/{world.handoff_id}/take"
        assert (await client.post(url, json_body={})).status == 403
        assert (await client.post(url, json_body={}, headers={"x-csrf-token": "0" * 64})).status == 403
        cross = {"x-csrf-token": csrf, "origin": "https://evil.example"}
        assert (await client.post(url, json_body={}, headers=cross)).status == 403
        assert (await client.post(url, json_body={}, headers={"x-csrf-token": csrf})).status == 200
    assert world.ledger.handoff(world.handoff_id)["assigned_agent"] == "jlee"


# --- the API --------------------------------------------------------------------------------------------


async def test_the_queue_lists_the_contract_fields(world):
    async with Client(world.app) as client:
        reply = await client.get("/agent/api/handoffs", headers=BEARER)
    assert reply.status == 200
    [handoff] = reply.json()
    assert {"id", "account_ref", "reason", "status", "created_at", "priority"} <= set(handoff)
    assert (handoff["account_ref"], handoff["reason"], handoff["status"]) == ("BW-10001", "dispute_not_mine", "open")


async def test_a_handoff_carries_its_transcript_and_research_summary(world):
    async with Client(world.app) as client:
        detail = (await client.get(f"/agent/api/handoffs/{world.handoff_id}", headers=BEARER)).json()
        missing = await client.get("/agent/api/handoffs/999", headers=BEARER)
    assert detail["transcript"][0] == {"role": "consumer", "text": "this is not my debt", "at": NOW.isoformat(),
                                       "channel": "sms"}
    research = detail["research"]
    assert research["account"]["account_ref"] == "BW-10001"
    assert research["account"]["balance"].startswith("$")
    assert research["line_items"] and {"payments", "plans", "disputes", "holds"} <= set(research)
    assert missing.status == 404


async def test_a_reply_takes_the_handoff_pauses_the_bot_and_reaches_the_conversation(world):
    async with Client(world.app) as client:
        reply = await client.post(f"/agent/api/handoffs/{world.handoff_id}/messages",
                                  json_body={"text": "Hi Maya, I am looking into it."}, headers=BEARER)
    assert reply.status == 201 and reply.json()["delivered_at"]
    assert world.conversations.calls == [("pause", "+14155550101"),
                                         ("say", "+14155550101", "Hi Maya, I am looking into it.", "api")]
    assert world.ledger.handoff(world.handoff_id)["status"] == "assigned"


@pytest.mark.parametrize("body, error", [
    (b"not json", "JSON object"),  # not JSON at all
    (b"[1, 2]", "JSON object"),  # JSON, but not an object
    (b'{"text": ""}', '"text"'),  # empty text
    (b'{"text": 42}', '"text"'),  # not a string
])
async def test_a_malformed_message_gets_400_with_a_clear_error(world, body, error):
    async with Client(world.app) as client:
        reply = await client.request("POST", f"/agent/api/handoffs/{world.handoff_id}/messages", body,
                                     dict(BEARER, **{"content-type": "application/json"}))
    assert reply.status == 400 and error in reply.json()["error"]
    assert world.conversations.calls == []


async def test_resolve_records_the_outcome_hands_back_and_happens_once(world):
    url = f"/agent/api/handoffs/{world.handoff_id}/resolve"
    async with Client(world.app) as client:
        bad = await client.post(url, json_body={"outcome": "made_up"}, headers=BEARER)
        first = await client.post(url, json_body={"outcome": "question_answered", "note": "explained"},
                                  headers=BEARER)
        second = await client.post(url, json_body={"outcome": "no_action"}, headers=BEARER)
    assert bad.status == 400 and "question_answered" in bad.json()["error"]
    assert first.status == 200 and first.json()["outcome"] == "question_answered"
    assert second.status == 409 and "resolved already" in second.json()["error"]
    assert world.conversations.calls == [("resume", "+14155550101")]
    assert world.ledger.handoff(world.handoff_id)["resolution_note"] == "explained"


async def test_two_agents_cannot_hold_the_same_handoff(world):
    async with Client(world.app) as jlee, Client(world.app) as ana:
        await login(jlee)
        await login(ana, "ana")
        csrf_j, csrf_a = await csrf_of(jlee), await csrf_of(ana)
        url = f"/agent/api/handoffs/{world.handoff_id}"
        assert (await jlee.post(url + "/take", json_body={}, headers={"x-csrf-token": csrf_j})).status == 200
        taken = await ana.post(url + "/take", json_body={}, headers={"x-csrf-token": csrf_a})
        replied = await ana.post(url + "/messages", json_body={"text": "hi"}, headers={"x-csrf-token": csrf_a})
        resolved = await ana.post(url + "/resolve", json_body={"outcome": "no_action"},
                                  headers={"x-csrf-token": csrf_a})
    assert (taken.status, replied.status, resolved.status) == (409, 409, 409)
    assert "held by jlee" in taken.json()["error"]


async def test_the_conversation_page_offers_reply_and_resolve_with_labels(world):
    async with Client(world.app) as client:
        await login(client)
        page = (await client.get(f"/agent/handoffs/{world.handoff_id}")).text
    for label in ('for="reply-text"', 'for="outcome"', 'for="note"', 'value="dispute_upheld"'):
        assert label in page
    assert "https://" not in page  # everything is served locally


def test_agents_race_for_one_handoff_and_exactly_one_wins(world):
    wins = [world.agents.take(world.handoff_id, name, NOW) for name in ("jlee", "ana", "jlee")]
    assert wins == [True, False, False]
    assert [world.agents.resolve(world.handoff_id, "jlee", "no_action", "", NOW) for _ in range(2)] == [True, False]


def open_dispute(world, words="that is not my account"):
    opened = world.disputes.open_dispute("BW-10001", conversation_id="+14155550101", channel="sms",
                                         reason="not_mine", words=words)
    return opened.dispute


@pytest.mark.parametrize("outcome, balance_change, notice", [
    ("dispute_upheld", "credit", "utter_dispute_upheld"),  # the consumer is right: the amount comes off
    ("dispute_verified", "none", "utter_dispute_verified"),  # verified: hold lifted, verification sent
])
async def test_a_dispute_outcome_closes_the_dispute_and_tells_the_consumer(world, outcome, balance_change, notice):
    dispute = open_dispute(world)
    before = world.ledger.statement("BW-10001")
    assert before.holds
    async with Client(world.app) as client:
        reply = await client.post(f"/agent/api/handoffs/{dispute.handoff_id}/resolve",
                                  json_body={"outcome": outcome, "note": "checked the invoice"}, headers=BEARER)
    assert reply.status == 200, reply.text
    after = world.ledger.statement("BW-10001")
    assert not after.holds
    credited = before.balance.minor - after.balance.minor
    assert credited == (dispute.amount.minor if balance_change == "credit" else 0)
    assert world.disputes.dispute(dispute.id).status == outcome.split("_")[1]
    said = [c for c in world.conversations.calls if c[0] == "say"]
    assert said == [("say", "+14155550101", f"{notice} en {reply_amount(dispute)}", None)]
    assert world.conversations.calls[-1] == ("resume", "+14155550101")


def reply_amount(dispute):
    from bot.i18n import format_money
    return format_money(dispute.amount, "en_US")


async def test_a_dispute_outcome_needs_a_dispute_handoff(world):
    async with Client(world.app) as client:
        reply = await client.post(f"/agent/api/handoffs/{world.handoff_id}/resolve",
                                  json_body={"outcome": "dispute_upheld"}, headers=BEARER)
    assert reply.status == 400 and "dispute" in reply.json()["error"]
    assert world.ledger.handoff(world.handoff_id)["status"] == "open"


async def test_the_research_summary_lists_disputes_and_holds(world):
    dispute = open_dispute(world)
    async with Client(world.app) as client:
        research = (await client.get(f"/agent/api/handoffs/{dispute.handoff_id}", headers=BEARER)).json()["research"]
    assert research["disputes"] and research["holds"]
    assert world.handoff_id in [h["id"] for h in research["previous_handoffs"]]


async def test_a_verified_dispute_sends_the_consumer_the_verification_in_their_language(world):
    from bot.translations import Catalogs

    dispute = open_dispute(world)
    desk = AgentDesk(world.ledger, world.agents, world.conversations, disputes=world.disputes,
                     catalogs=Catalogs(ROOT), clock=lambda: NOW)
    desk.resolve(dispute.handoff_id, "jlee", "dispute_verified", "statement sent")
    [said] = [c for c in world.conversations.calls if c[0] == "say"]
    assert said[1] == "+14155550101" and said[3] is None
    assert said[2] and "{" not in said[2]  # rendered from domain.yml, placeholders filled


async def test_console_pages_keep_the_origin_that_the_login_and_csrf_checks_read(world):
    # Under the backend's default no-referrer policy a browser posts `Origin: null`, and the
    # same-origin check would refuse every sign-in (found by the browser test).
    async with Client(world.app) as client:
        login_page = await client.get("/agent/login")
        await login(client)
        queue = await client.get("/agent/")
    for page in (login_page, queue):
        assert page.headers["referrer-policy"] == "same-origin"
        assert "default-src 'none'" in page.headers["content-security-policy"]
