"""The web chat page in a real browser against the running stack (Rasa, actions, backend).

Uses the session fixture `stack` from tests/e2e/conftest.py. Drives Debian's Chromium
(/usr/bin/chromium) through Playwright; no Playwright browser download is needed.
Replies come from the trained model and the action server, so waits are generous.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import List

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "webchat.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
CONNECT_TIMEOUT_MS = 30_000
REPLY_TIMEOUT_MS = 120_000  # model-backed replies, possibly through the action server
QUIET_SECONDS = 2.0  # a reply may be several bot messages: wait for the log to settle
ACCOUNT = "BW-10001"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A phone-sized page, and the script errors and CSP violations it reports."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(CONNECT_TIMEOUT_MS)
    problems: List[str] = []

    def on_console(msg) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            problems.append(f"console: {msg.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", on_console)
    yield SimpleNamespace(page=page, problems=problems)
    context.close()


def bot_texts(page) -> List[str]:
    return page.locator(".msg.msg-bot").all_inner_texts()


def wait_until_quiet(page, deadline_s: float = 30.0) -> None:
    """Wait until no new message has arrived for QUIET_SECONDS."""
    messages = page.locator(".msg")
    count, since, end = messages.count(), time.monotonic(), time.monotonic() + deadline_s
    while time.monotonic() < end:
        time.sleep(0.25)
        now = messages.count()
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_SECONDS:
            return


def say(page, text: str) -> List[str]:
    """Type `text`, send it with the keyboard, and return the bot's reply messages."""
    bots = page.locator(".msg.msg-bot")
    before = bots.count()
    box = page.locator("#chat-input")
    box.fill(text)
    box.press("Enter")
    page.locator(".msg.msg-user").filter(has_text=text).last.wait_for()
    bots.nth(before).wait_for(timeout=REPLY_TIMEOUT_MS)
    wait_until_quiet(page)
    return bot_texts(page)[before:]


def test_verify_then_see_the_balance_on_a_phone(stack, phone) -> None:
    page = phone.page
    expected = stack.format_money(stack.ledger.statement(ACCOUNT).balance, "en_US")

    page.goto(stack.personal_link(ACCOUNT))
    page.locator("#chat-status").wait_for(state="hidden", timeout=CONNECT_TIMEOUT_MS)
    assert "t=" not in page.url, "the personal token is taken out of the address bar"
    assert page.locator("#chat-send").is_visible()

    replies = say(page, "hi")
    assert replies and any(r.strip() for r in replies), "the bot answers the greeting"
    say(page, "3/4/85")

    # Nothing about the debt is disclosed before verification (Regulation F 1006.6(d)).
    before_verification = bot_texts(page)
    assert not [t for t in before_verification if "$" in t], before_verification
    assert not [t for t in before_verification if expected in t]

    say(page, "94110")
    page.locator("#chat-input").fill("how much do i owe")
    page.locator("#chat-send").click()  # the mouse path as well as the keyboard one

    page.locator(".msg.msg-bot").filter(has_text=expected).first.wait_for(
        timeout=REPLY_TIMEOUT_MS
    )
    wait_until_quiet(page)
    assert any(expected in text for text in bot_texts(page))

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert not phone.problems, phone.problems
