"""The web chat in a phone-sized browser without a personal link: a reload keeps the conversation,
and the visitor identifies with an account reference, chooses a text message, and types the code texted
to the phone on file."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_webchat_browser import (  # noqa: F401  (fixtures)
    CONNECT_TIMEOUT_MS,
    REPLY_TIMEOUT_MS,
    bot_texts,
    browser,
    phone,
    say,
    wait_until_quiet,
)

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "webchat-code.png"
EMILY = {"ref": "SRS-40002", "phone": "+16175550108"}  # in no other browser or e2e journey


def test_a_reload_keeps_the_conversation_and_a_code_identifies_the_visitor(stack, phone) -> None:  # noqa: F811
    page = phone.page
    page.goto(f"{stack.backend_url}/chat")
    page.locator("#chat-status").wait_for(state="hidden", timeout=CONNECT_TIMEOUT_MS)

    asked = say(page, "hi")
    assert any("account reference" in text for text in asked), asked

    page.reload()
    page.locator("#chat-status").wait_for(state="hidden", timeout=CONNECT_TIMEOUT_MS)
    assert any("account reference" in text for text in bot_texts(page)), "the transcript survives the reload"

    # The same conversation goes on: the form that asked for the reference reads the answer, then asks
    # where to send the code; the visitor taps "Text message".
    route = say(page, EMILY["ref"])
    assert any("text message" in text and "email" in text for text in route), route
    bots = page.locator(".msg.msg-bot")
    before = bots.count()
    page.get_by_role("button", name="Text message").click()
    bots.nth(before).wait_for(timeout=REPLY_TIMEOUT_MS)
    wait_until_quiet(page)
    sent = bot_texts(page)[before:]
    assert any("ending in 08" in text for text in sent), sent
    code = re.search(r"\b(\d{6})\b", stack.twilio.messages(EMILY["phone"])[-1].body).group(1)
    confirmed = say(page, code)
    assert any("date of birth" in text for text in confirmed), confirmed

    # Keyboard only: the message box and the send button are reachable and labelled.
    assert page.locator("label[for=chat-input]").count() == 1
    page.locator("#chat-input").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "chat-send"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert not phone.problems, phone.problems
