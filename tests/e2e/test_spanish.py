"""A whole conversation in Spanish over the REST channel, and the language of a consumer we do not know.

Lucía's placement says Spanish: she verifies with a date of birth written out in Spanish, hears her
balance and line items formatted for es_US, sets up a payment plan whose dates are written in
Spanish, and disputes the debt. The structured steps send what the web chat's buttons send (as
tests/e2e/test_payments.py does); the free-text steps are Spanish.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest

from bot.domain.language import detect_language
from bot.i18n import format_day
from tests.e2e.test_payments import pay_on_sandbox_page, payment_link

pytestmark = pytest.mark.e2e

LUCIA = {"phone": "+13055550102", "ref": "NW-20001", "dob": "23 de noviembre de 1979", "zip": "33125"}
ENGLISH_MONTHS = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")


def spanish_dates_in(text: str, days: int = 62) -> list:
    """The dates of the coming weeks that appear in the text written the es_US way ("22 dic 2026")."""
    today = date.today()
    candidates = (today + timedelta(days=n) for n in range(-1, days))
    return [day for day in candidates if format_day(day, "es_US") in text]


def test_a_spanish_speaker_does_everything_in_spanish(stack):
    sender = LUCIA["phone"]  # the phone on file identifies her; the placement says Spanish
    statement = stack.ledger.statement(LUCIA["ref"])

    greeting = stack.texts(sender, "/session_start")
    assert any("ALTO" in text for text in greeting), greeting

    asked = stack.texts(sender, "cuanto debo")
    assert any("fecha de nacimiento" in text for text in asked), asked
    replies = stack.texts(sender, LUCIA["dob"]) + stack.texts(sender, LUCIA["zip"])
    balance = stack.format_money(statement.balance, "es_US")
    assert any(balance in text for text in replies), replies  # "US$ 652.35"-style, es_US
    assert any("verific" in text for text in replies), replies

    details = " ".join(stack.texts(sender, "/ask_balance_details"))
    for item in statement.line_items:
        assert stack.format_money(item.amount, "es_US") in details, (item, details)
        assert format_day(item.date, "es_US") in details, (item, details)

    options = stack.texts(sender, "/request_payment_plan")
    assert any("plan" in text.lower() for text in options), options
    assert any(spanish_dates_in(text) for text in options), options
    confirm = " ".join(stack.texts(sender, '/choose_plan{"plan_option": "1"}'))
    assert len(spanish_dates_in(confirm)) >= 2, confirm  # every installment's date
    assert balance in confirm and not ENGLISH_MONTHS.search(confirm), confirm
    setup = payment_link(stack.texts(sender, "/affirm"))
    page = pay_on_sandbox_page(setup, "4242424242424242")
    assert 'lang="es"' in page, page[:300]
    plan = stack.ledger.account_json(LUCIA["ref"])["plans"][0]
    assert sum(i["amount_cents"] for i in plan["installments"]) == statement.balance.minor

    handoffs_before = {h["id"] for h in stack.ledger.handoffs()}
    disputed = stack.texts(sender, "esto no es mio, nunca tuve cuenta con ellos")
    assert disputed and all(detect_language(text) != "en" for text in disputed), disputed
    assert any(detect_language(text) == "es" for text in disputed), disputed
    disputes = stack.ledger.account_json(LUCIA["ref"])["disputes"]
    handed_off = [h for h in stack.ledger.handoffs()
                  if h["id"] not in handoffs_before and h["account_ref"] == LUCIA["ref"]]
    assert disputes or handed_off, "neither a dispute nor a handoff was recorded for NW-20001"


def test_a_consumer_we_do_not_know_is_answered_in_the_language_they_write(stack):
    sender = f"web-{uuid.uuid4().hex[:12]}"  # no placement, no link, no page language

    first = stack.texts(sender, "hola, buenos días")
    assert first and all(detect_language(text) != "en" for text in first), first
    assert any("ALTO" in text for text in first), first  # the Spanish greeting

    switched = stack.texts(sender, "English please")
    assert switched and all(detect_language(text) != "es" for text in switched), switched
    assert any(detect_language(text) == "en" for text in switched), switched
    # An explicit request wins over detection: Spanish words no longer switch back.
    after = stack.texts(sender, "muchas gracias")
    assert after and all(detect_language(text) != "es" for text in after), after
