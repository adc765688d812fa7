"""The operations dashboard in Chromium against the running stack: after scripted conversations and
payments, the numbers an agent sees match the ledger.

The conversations are with consumers of a creditor only this module places (Orchard Dental Group), so
its numbers are this script's alone whatever else the shared stack has done today.
"""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List

import pytest
from sqlalchemy import text

from bot.domain.money import Money
from tests.e2e.conftest import ROOT
from tests.e2e.test_payments import PAY, YES, pay_on_sandbox_page, payment_link, verified_conversation
from tests.e2e.test_webchat_browser import CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT = ROOT / "docs" / "screenshots" / "dashboard.png"
AGENT, PASSWORD = "dana", "dashboard-e2e-password"
VISA = "4242424242424242"
CREDITOR = """
  - id: orchard
    name: Orchard Dental Group
    role: first_party
    plans_allowed: true
    max_installments: 6
    min_installment: 25.00
    frequencies: [monthly]
    promise_max_days: 14
    extension_policy: none
    min_partial_payment: 5.00
"""
HEADER = ("creditor_id,account_ref,first_name,last_name,date_of_birth,postal_code,phone,email,language,timezone,"
          "currency,item_date,item_reference,item_description,item_amount\n")
NORA = {"ref": "ORC-80001", "dob": "1/15/1990", "zip": "10001"}
OWEN = {"ref": "ORC-80002", "dob": "6/20/1985", "zip": "30301"}
IRIS = {"ref": "ORC-80003", "dob": "11/2/1979", "zip": "98101"}
LEO = {"ref": "ORC-80004", "dob": "3/9/1995", "zip": "73301"}
PEOPLE = {  # ref: (name, date of birth, ZIP, phone, amount)
    "ORC-80001": ("Nora,Patel", "1990-01-15", "10001", "+15550108001", "120.00"),
    "ORC-80002": ("Owen,Brooks", "1985-06-20", "30301", "+15550108002", "200.00"),
    "ORC-80003": ("Iris,Moreau", "1979-11-02", "98101", "+15550108003", "85.50"),
    "ORC-80004": ("Leo,Grant", "1995-03-09", "73301", "+15550108004", "60.00"),
}


def bot(stack, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=dict(stack.env, **env),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def orchard(stack, tmp_path_factory):
    """The creditor, its four consumers and an agent who may see the dashboard."""
    folder = tmp_path_factory.mktemp("orchard")
    creditors = folder / "creditors.yml"
    creditors.write_text((ROOT / "demo" / "creditors.yml").read_text() + CREDITOR)
    placements = folder / "placements.csv"
    placements.write_text(HEADER + "".join(
        f"orchard,{ref},{name},{born},{zip_code},{phone},{ref.lower()}@example.com,en,America/New_York,USD,"
        f"2026-05-04,INV-{ref},Dental cleaning and x-rays,{amount}\n"
        for ref, (name, born, zip_code, phone, amount) in PEOPLE.items()))
    done = bot(stack, "import-placements", str(placements), "--creditors", str(creditors))
    assert done.returncode == 0, done.stderr
    added = bot(stack, "agent-add", AGENT, "--name", "Dana Okafor", AGENT_PASSWORD=PASSWORD)
    assert added.returncode == 0, added.stderr
    return list(PEOPLE)


def scripted_activity(stack) -> List[str]:
    """Four conversations: two verified consumers pay (in full, then in part), one disputes the debt,
    one never verifies. Returns the conversation ids."""
    nora, metadata = verified_conversation(stack, NORA)
    stack.texts(nora, PAY, metadata)
    stack.texts(nora, "all of it", metadata)
    pay_on_sandbox_page(payment_link(stack.texts(nora, YES, metadata)), VISA)

    owen, metadata = verified_conversation(stack, OWEN)
    stack.texts(owen, PAY, metadata)
    stack.texts(owen, "$40", metadata)
    pay_on_sandbox_page(payment_link(stack.texts(owen, YES, metadata)), VISA)

    iris, metadata = verified_conversation(stack, IRIS)
    stack.texts(iris, "/dispute_not_mine", metadata)  # recorded, held and handed to an agent

    leo = "web-orchard-leo"
    metadata = {"link_token": stack.link_token(LEO["ref"]), "language": "en"}
    stack.texts(leo, "/session_start", metadata)
    stack.texts(leo, "hi", metadata)
    return [nora, owen, iris, leo]


def wait_for_records(stack, conversations: List[str], seconds: float = 30) -> None:
    """The event broker writes the record off the event loop: wait until every conversation is in it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(stack.ledger.communications(c) for c in conversations):
            return
        time.sleep(0.3)
    raise AssertionError("the conversations never reached the communications record")


def ledger_numbers(stack, refs: List[str], conversations: List[str], since: datetime) -> Dict[str, str]:
    """What the ledger says, read through the ledger's own API (not the reporting module)."""
    collected = sum(p["amount_cents"] for ref in refs for p in stack.ledger.account_json(ref)["payments"])
    payments = sum(len(stack.ledger.account_json(ref)["payments"]) for ref in refs)
    verified = sum(any(ok for _, ok in stack.ledger.verification_attempts_since(
        stack.ledger.statement(ref).consumer.id, since)) for ref in refs)
    handoffs = [h for h in stack.ledger.handoffs() if h["account_ref"] in refs]
    disputes = sum(len(stack.ledger.account_json(ref)["disputes"]) for ref in refs)
    contained = len(conversations) - len({h["conversation_id"] for h in handoffs})
    return {
        "conversations_started": str(len(conversations)),
        "conversations_verified": str(verified),
        "conversations_contained": str(contained),
        "containment_rate": f"{round(100 * contained / len(conversations))}%",
        "collected": stack.format_money(Money(collected, "USD"), "en_US"),
        "collected_per_conversation": stack.format_money(Money(round(collected / len(conversations)), "USD"), "en_US"),
        "payments": str(payments),
        "settlements": "0",
        "plans_created": "0",
        "promises_made": "0",
        "disputes_opened": str(disputes),
        "handoffs": str(len(handoffs)),
        "opt_outs": "0",
    }


def shown(page) -> Dict[str, str]:
    return {element.get_attribute("data-kpi"): element.inner_text().strip()
            for element in page.locator("main [data-kpi]").all()}


def loaded_after(page, previous: int) -> int:
    """Wait until the page has shown more answers from the KPI endpoint than `previous`."""
    page.wait_for_function("(p) => Number(document.getElementById('dashboard').dataset.loads || 0) > p",
                           arg=previous, timeout=30_000)
    return int(page.get_attribute("#dashboard", "data-loads"))


@pytest.fixture
def desktop():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        problems: List[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
        yield page, problems
        browser.close()


def test_the_dashboard_shows_what_the_ledger_holds(stack, orchard, desktop):
    page, problems = desktop
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    conversations = scripted_activity(stack)
    wait_for_records(stack, conversations)
    today = datetime.now(timezone.utc).date().isoformat()

    # Not signed in: the console's login, which brings the agent back to the dashboard.
    page.goto(f"{stack.backend_url}/agent/dashboard")
    page.wait_for_url("**/agent/login**")
    page.fill("#username", AGENT)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/agent/dashboard")

    page.goto(f"{stack.backend_url}/agent/dashboard?creditor=orchard&start={today}&end={today}")
    loads = loaded_after(page, 0)
    expected = ledger_numbers(stack, orchard, conversations, since)
    assert {key: shown(page)[key] for key in expected} == expected
    assert page.locator("#creditor").input_value() == "orchard"
    assert page.locator("canvas#chart-conversations").get_attribute("height")  # Chart.js drew it
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # All creditors: the money matches every payment the ledger posted today.
    with stack.ledger.engine.connect() as connection:
        total = connection.execute(text(
            "SELECT COALESCE(-SUM(amount_minor), 0) FROM ledger_entries WHERE kind = 'payment' AND posted_at >= :day"),
            {"day": f"{today} 00:00:00"}).scalar_one()
    page.select_option("#creditor", "")
    loaded_after(page, loads)
    sync_api.expect(page.locator('main [data-kpi="collected"]')).to_have_text(
        stack.format_money(Money(int(total), "USD"), "en_US"))

    export = page.get_attribute("#export", "href")
    assert export.startswith("/agent/api/dashboard/export.csv?") and f"start={today}" in export
    assert problems == []
