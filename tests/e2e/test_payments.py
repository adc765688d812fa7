"""Journeys 5-8 over the REST channel: the money moves through the sandbox page into the ledger."""
from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.e2e

LINK = re.compile(r"https?://\S+/pay/[\w-]+")
# These tests are about the money path, not language understanding (tests/nlu and tests/stories
# cover that): the steps that need an intent send what the web chat's buttons send.
PAY, YES, NO, PLAN = "/make_payment", "/affirm", "/deny", "/request_payment_plan"
# Consumers who appear in no other end-to-end test, so their balances are theirs alone.
DANIEL = {"ref": "BW-10002", "dob": "1/8/1996", "zip": "80205"}
CARLOS = {"ref": "BW-10003", "dob": "12/2/1988", "zip": "78207"}
AISHA = {"ref": "CHP-30002", "dob": "9/14/1974", "zip": "85004"}


def verified_conversation(stack, person, language="en"):
    sender = f"web-{uuid.uuid4().hex[:10]}"
    metadata = {"link_token": stack.link_token(person["ref"]), "language": language}
    stack.texts(sender, "/session_start", metadata)
    stack.texts(sender, "hi", metadata)
    replies = stack.texts(sender, f"{person['dob']} {person['zip']}", metadata)
    assert any("verified" in text or "verific" in text for text in replies), replies
    return sender, metadata


def payment_link(replies):
    for text in replies:
        found = LINK.search(text)
        if found:
            return found.group(0)
    raise AssertionError(f"no payment link in {replies}")


def pay_on_sandbox_page(url: str, card: str) -> str:
    """Submit the hosted page's form the way a browser does."""
    with urllib.request.urlopen(url, timeout=30) as page:
        assert page.status == 200
    form = urllib.parse.urlencode({"card_number": card, "exp": "12/30", "cvc": "123"}).encode()
    request = urllib.request.Request(url, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as result:
        return result.read().decode()


def wait_for_record(stack, sender, fragment, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        bodies = [r["body"] for r in stack.ledger.communications(sender) if r["direction"] == "out"]
        if any(fragment in body for body in bodies):
            return bodies
        time.sleep(0.3)
    raise AssertionError(f"{fragment!r} never told to the consumer: {bodies}")


def test_pay_in_full_through_the_sandbox_page_clears_the_balance(stack):
    sender, metadata = verified_conversation(stack, DANIEL)
    balance = stack.ledger.statement(DANIEL["ref"]).balance
    amount = stack.format_money(balance, "en_US")
    stack.texts(sender, PAY, metadata)
    confirm = stack.texts(sender, "all of it", metadata)
    assert any(amount in text for text in confirm), confirm
    link = payment_link(stack.texts(sender, YES, metadata))

    pay_on_sandbox_page(link, "4242424242424242")

    account = stack.ledger.account_json(DANIEL["ref"])
    assert account["balance_cents"] == 0
    assert len(account["payments"]) == 1
    wait_for_record(stack, sender, "went through")


def test_a_declined_card_leaves_the_balance_and_tells_the_consumer(stack):
    sender, metadata = verified_conversation(stack, AISHA)
    before = stack.ledger.statement(AISHA["ref"]).balance
    stack.texts(sender, PAY, metadata)
    stack.texts(sender, "$20", metadata)
    link = payment_link(stack.texts(sender, YES, metadata))

    pay_on_sandbox_page(link, "4000000000000002")

    assert stack.ledger.statement(AISHA["ref"]).balance == before
    assert stack.ledger.account_json(AISHA["ref"])["payments"] == []
    wait_for_record(stack, sender, "declined")


def test_nothing_is_created_without_a_yes(stack):
    sender, metadata = verified_conversation(stack, AISHA)
    stack.texts(sender, PAY, metadata)
    stack.texts(sender, "$20", metadata)
    replies = stack.texts(sender, NO, metadata)
    assert not any(LINK.search(text) for text in replies)
    assert any("haven't set anything up" in text for text in replies), replies


def test_a_three_installment_plan_sums_to_the_balance_and_charges_each_once(stack, run_due):
    sender, metadata = verified_conversation(stack, CARLOS, language="es")
    balance = stack.ledger.statement(CARLOS["ref"]).balance
    third = -(-balance.minor // 3)
    options = stack.texts(sender, PLAN, metadata)
    assert any("Plan" in text or "plan" in text for text in options), options
    offered = stack.texts(sender, '/inform{"amount": "%.2f al mes"}' % (third / 100), metadata)
    three = next((t for t in offered if t[:2] in ("1.", "2.", "3.") and "3 pagos mensuales" in t), None)
    assert three is not None, offered
    confirm = stack.texts(sender, '/choose_plan{"plan_option": "%s"}' % three[0], metadata)
    assert any(stack.format_money(balance, "es_US") in text for text in confirm), confirm
    setup_link = payment_link(stack.texts(sender, YES, metadata))

    pay_on_sandbox_page(setup_link, "4242424242424242")
    plan = stack.ledger.account_json(CARLOS["ref"])["plans"][0]
    amounts = [installment["amount_cents"] for installment in plan["installments"]]
    assert len(amounts) == 3 and sum(amounts) == balance.minor

    for months in (0, 1, 2, 3):  # run the scheduler past every due date, each twice
        at = datetime.now(timezone.utc) + timedelta(days=31 * months + 1)
        run_due(at)
        run_due(at)
    account = stack.ledger.account_json(CARLOS["ref"])
    assert account["balance_cents"] == 0
    assert len(account["payments"]) == 3
