"""The dispute rules in bot.domain.disputes: reasons, amounts held, credits, dates people type."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.domain.disputes import (
    PRIORITY_DISPUTE,
    PRIORITY_FRAUD,
    Dispute,
    add_business_days,
    dispute_reason,
    disputed_amount,
    handoff_priority,
    names_disputed_amount,
    parse_past_date,
    upheld_adjustment,
)
from bot.domain.money import Money

TODAY = date(2026, 11, 22)  # a Sunday
USD = lambda minor: Money(minor, "USD")  # noqa: E731


@pytest.mark.parametrize("intent, text, kind, reason", [
    ("dispute_not_mine", "not mine", None, "not_mine"),  # not mine
    ("dispute_not_mine", "someone stole my identity", None, "fraud"),  # identity theft in not-mine words
    ("dispute_not_mine", "me robaron la identidad", None, "fraud"),  # the same in Spanish
    ("dispute_amount", "wrong amount", None, "wrong_amount"),  # wrong amount
    ("dispute_service", "never delivered", None, "service"),  # service not delivered
    ("claim_already_paid", "i paid", None, "already_paid"),  # already paid
    ("dispute_debt", "i dispute this", None, "other"),  # no kind said
    ("dispute_not_mine", "/dispute_not_mine", "fraud", "fraud"),  # a button's explicit kind wins
    ("provide_identity", "94110", None, "other"),  # anything else never crashes
])
def test_the_reason_recorded(intent, text, kind, reason):
    assert dispute_reason(intent, text, kind) == reason


@pytest.mark.parametrize("named, held", [
    (None, 77500),  # nothing named: the whole balance
    (USD(5000), 5000),  # the amount the consumer disputes
    (USD(90000), 77500),  # more than is owed: the whole balance
    (USD(0), 77500),  # nonsense: the whole balance
    (Money(5000, "EUR"), 77500),  # another currency: the whole balance
])
def test_the_amount_held(named, held):
    assert disputed_amount(USD(77500), named) == USD(held)


def test_an_upheld_credit_never_exceeds_what_is_owed():
    assert upheld_adjustment(USD(5000), USD(77500)) == USD(5000)
    assert upheld_adjustment(USD(5000), USD(3000)) == USD(3000)
    assert upheld_adjustment(USD(5000), USD(0)) == USD(0)


@pytest.mark.parametrize("text, named", [
    ("they charged me $50 twice", True),
    ("I dispute the $120 fee", True),
    ("me cobraron $50 de más", True),
    ("I only owe $50", False),  # what they owe, not what they dispute: the whole balance is held
    ("the amount should be $300", False),
    ("the amount is wrong", True),
])
def test_when_an_amount_is_the_disputed_one(text, named):
    assert names_disputed_amount(text) == named


@pytest.mark.parametrize("text, expected", [
    ("November 2", date(2026, 11, 2)),
    ("i paid $50 on november 2", date(2026, 11, 2)),  # the amount is not a year
    ("2 de noviembre", date(2026, 11, 2)),
    ("11/2", date(2026, 11, 2)),
    ("11/2/2026", date(2026, 11, 2)),
    ("yesterday", date(2026, 11, 21)),
    ("ayer", date(2026, 11, 21)),
    ("3 days ago", date(2026, 11, 19)),
    ("December 25", date(2025, 12, 25)),  # not yet this year: last year's
    ("12/25/2026", None),  # in the future
    ("soon", None),
])
def test_when_a_payment_was_made(text, expected):
    assert parse_past_date(text, TODAY) == expected


def test_the_answer_is_promised_in_business_days():
    assert add_business_days(TODAY, 5) == date(2026, 11, 27)  # Sunday + 5 working days: Friday
    dispute = Dispute(1, "BW-1", "c", "sms", "not_mine", "w", USD(1), "open",
                      datetime(2026, 11, 20, 15, tzinfo=timezone.utc))  # a Friday
    assert dispute.answer_by == date(2026, 11, 27) and dispute.is_open


def test_fraud_is_taken_first():
    assert handoff_priority("fraud") == PRIORITY_FRAUD > handoff_priority("service") == PRIORITY_DISPUTE


def test_unknown_reasons_and_statuses_are_refused():
    with pytest.raises(ValueError):
        Dispute(1, "BW-1", "c", "sms", "angry", "w", USD(1), "open", datetime.now(timezone.utc))
