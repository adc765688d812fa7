"""An agent works a web chat handoff in the console while the consumer watches the web chat.

Two browser contexts on the running stack: the consumer's phone-sized web chat, and the agent's
desktop console. Same Chromium launch as tests/e2e/test_webchat_browser.py.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_webchat_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CONNECT_TIMEOUT_MS,
    PHONE,
    REPLY_TIMEOUT_MS,
    bot_texts,
    say,
    wait_until_quiet,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "agent-console.png"
ACCOUNT = "BW-10001"
AGENT, PASSWORD = "sam", "a-long-test-password"
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def agent_account(stack):
    """An agent added the documented way: `python -m bot agent-add`, password from AGENT_PASSWORD."""
    subprocess.run([sys.executable, "-m", "bot", "agent-add", AGENT, "--name", "Sam"], cwd=PROJECT_ROOT,
                   env=dict(stack.env, AGENT_PASSWORD=PASSWORD), check=True, capture_output=True)
    return AGENT, PASSWORD


def test_an_agent_replies_and_resolves_while_the_consumer_sees_the_reply(stack, browser, agent_account):
    consumer_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    agent_context = browser.new_context(viewport=DESKTOP, locale="en-US")
    problems = []
    try:
        chat = consumer_context.new_page()
        console = agent_context.new_page()
        for page in (chat, console):
            page.set_default_timeout(CONNECT_TIMEOUT_MS)
            page.on("pageerror", lambda error: problems.append(str(error)))

        # The consumer asks for a person in the web chat.
        known = {h["id"] for h in stack.ledger.handoffs()}
        chat.goto(stack.personal_link(ACCOUNT))
        chat.locator("#chat-status").wait_for(state="hidden")
        replies = say(chat, "I want to talk to a human")
        assert any("person on our team" in text for text in replies), replies
        [handoff] = [h for h in stack.ledger.handoffs() if h["id"] not in known]

        # The agent signs in and opens it from the queue.
        console.goto(f"{stack.backend_url}/agent/")
        console.get_by_label("Username").fill(agent_account[0])
        console.get_by_label("Password").fill(agent_account[1])
        console.get_by_role("button", name="Sign in").click()
        console.get_by_role("link", name=f"#{handoff['id']} ").click()
        console.locator("#transcript li").filter(has_text="I want to talk to a human").wait_for()

        # The agent's reply reaches the consumer's web chat.
        reply = "Hi, I'm Sam from the support team. I can help with that."
        console.get_by_label("Message (sent on the consumer's own channel)").fill(reply)
        console.get_by_role("button", name="Send reply").click()
        chat.locator(".msg.msg-bot").filter(has_text=reply).wait_for(timeout=REPLY_TIMEOUT_MS)

        # While the agent holds the conversation the consumer's words go to the agent, not the bot.
        bots_before = len(bot_texts(chat))
        chat.locator("#chat-input").fill("thanks, can you lower my balance?")
        chat.locator("#chat-input").press("Enter")
        console.locator("#transcript li").filter(has_text="can you lower my balance").wait_for(
            timeout=REPLY_TIMEOUT_MS)
        wait_until_quiet(chat)
        assert len(bot_texts(chat)) == bots_before

        # Resolve and hand back; the bot answers again.
        console.get_by_label("Outcome").select_option("question_answered")
        console.get_by_label("Note (kept with the handoff)").fill("Explained the options; no change.")
        console.get_by_role("button", name="Resolve").click()
        console.locator("#handoff-status").filter(has_text="resolved").wait_for()
        console.screenshot(path=str(SCREENSHOT))
        assert stack.ledger.handoff(handoff["id"])["outcome"] == "question_answered"
        assert say(chat, "hello"), "the bot answers again after the handoff is resolved"
        assert not problems, problems
    finally:
        consumer_context.close()
        agent_context.close()
