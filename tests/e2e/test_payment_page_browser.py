"""The sandbox payment page in Chromium, served by the real backend process (`python -m bot backend`).

A request is created through the payments service on the backend's own SQLite ledger; the browser
opens its link on a phone-sized screen, types a test card, submits, and sees the receipt; the ledger
then holds the payment. No Rasa or action server is needed, so this runs without the e2e stack.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import List

import pytest

from bot.bootstrap import make_engine
from bot.ledger.importer import import_placements
from bot.ledger.migrations import upgrade
from bot.ledger.payments import SqlPayments
from bot.ledger.repository import SqlLedger
from bot.payments.notifier import ConsumerNotifier
from bot.payments.sandbox import SandboxGateway
from bot.payments.service import PaymentsService

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "payment-page.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
PHONE = {"width": 390, "height": 844}


class Unreachable(ConsumerNotifier):
    def notify(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """The backend process on a free port over a fresh demo ledger; yields (url, ledger, service)."""
    workdir = tmp_path_factory.mktemp("payment-page")
    database_url = f"sqlite:///{workdir / 'ledger.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    import_placements(engine, ROOT / "demo" / "placements.csv", ROOT / "demo" / "creditors.yml")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=database_url, BACKEND_PORT=str(port), PUBLIC_URL=url,
               SECRET_KEY="browser-test-secret", PAYMENTS_SCHEDULER_SECONDS="0", RASA_URL="http://127.0.0.1:9",
               PYTHONUNBUFFERED="1")
    env.pop("STRIPE_API_KEY", None)
    log = open(workdir / "backend.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "bot", "backend"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "backend.log").read_text()[-3000:])
                time.sleep(0.3)
        ledger = SqlLedger(engine)
        service = PaymentsService(ledger, SqlPayments(engine), SandboxGateway(url), Unreachable(), public_url=url)
        yield url, ledger, service
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        engine.dispose()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: List[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    yield page, problems
    context.close()


def test_pay_in_full_on_the_sandbox_page(backend, phone):
    url, ledger, service = backend
    page, problems = phone
    request = service.request_payment("BW-10001", None, "full", "browser-conv", "webchat")

    page.goto(request.url)
    assert page.get_by_role("heading", name="Pay Brightwork Marketplace").is_visible()
    assert page.get_by_text("$775.00").first.is_visible()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code (CVC)").fill("123")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_role("button", name="Pay $775.00").click()

    page.get_by_role("heading", name="Thank you, your payment went through").wait_for()
    assert "4242" not in page.content().split("Test mode")[0]
    account = ledger.account_json("BW-10001")
    assert account["balance_cents"] == 0
    assert [(p["amount_cents"], p["request_id"]) for p in account["payments"]] == [(77500, request.id)]
    assert not problems, problems  # no CSP violations, no script errors


def test_a_declined_card_in_spanish(backend, phone):
    url, ledger, service = backend
    page, problems = phone
    request = service.request_payment("NW-20001", None, "full")

    page.goto(request.url)
    page.get_by_label("Número de tarjeta").fill("4000 0000 0000 0002")
    page.get_by_label("Vencimiento (MM/AA)").fill("12/30")
    page.get_by_label("Código de seguridad (CVC)").fill("123")
    page.get_by_role("button", name="Pagar $652.35").click()

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "rechazada" in alert.inner_text()
    assert page.get_by_label("Número de tarjeta").input_value() == ""  # the number is never echoed back
    assert ledger.statement("NW-20001").balance.minor == 65235
    assert not problems, problems
