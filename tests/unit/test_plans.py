"""Plans, settlements and promises within creditor policy (bot/domain/plans.py), with a property test."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.accounts import FREQUENCIES, CreditorPolicy
from bot.domain.money import Money
from bot.domain.plans import (
    FIRST_PAYMENT_MAX_DAYS,
    Installment,
    PlanProposal,
    add_months,
    build_plan,
    plan_problem,
    promise_problem,
    propose_plans,
    schedule_dates,
    settlement_offer,
)

TODAY = date(2026, 11, 23)
BRIGHTWORK = CreditorPolicy(plans_allowed=True, max_installments=6, min_installment=Money(2500, "USD"),
                            frequencies=("monthly", "biweekly"), settlement_floor_percent=80, promise_max_days=14,
                            extension_policy="proof_required", min_partial_payment=500)
NO_PLANS = CreditorPolicy(plans_allowed=False, settlement_floor_percent=70)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


# --- schedules -------------------------------------------------------------------------------------


def test_installments_sum_exactly_larger_first():
    plan = build_plan(usd(10000), "monthly", 3, TODAY)
    assert [i.amount.minor for i in plan.installments] == [3334, 3333, 3333]
    assert plan.total == usd(10000)


@pytest.mark.parametrize(
    "first, frequency, expected",
    [
        (date(2026, 1, 31), "monthly", [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]),  # month ends
        (date(2026, 11, 23), "weekly", [date(2026, 11, 23), date(2026, 11, 30), date(2026, 12, 7)]),
        (date(2026, 12, 25), "biweekly", [date(2026, 12, 25), date(2027, 1, 8), date(2027, 1, 22)]),  # year end
    ],
)
def test_schedule_dates(first, frequency, expected):
    assert list(schedule_dates(first, frequency, 3)) == expected


def test_add_months_keeps_the_anchor_day():
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 2, 28), 1, anchor_day=31) == date(2026, 3, 31)


# --- proposals -------------------------------------------------------------------------------------


def test_proposals_shortest_first_within_policy():
    proposals = propose_plans(usd(77500), BRIGHTWORK, TODAY)
    assert [p.count for p in proposals] == [2, 4, 6]
    assert all(p.frequency == "monthly" for p in proposals)  # the policy's first frequency
    assert all(p.total == usd(77500) and p.first_due == TODAY for p in proposals)


def test_a_frequency_the_creditor_does_not_offer_gives_nothing():
    assert propose_plans(usd(77500), BRIGHTWORK, TODAY, frequency="weekly") == []


def test_from_what_the_consumer_can_afford():
    proposals = propose_plans(usd(77500), BRIGHTWORK, TODAY, frequency="monthly", affordable=usd(20000))
    assert len(proposals) == 1
    assert proposals[0].count == 4 and proposals[0].largest <= usd(20000)


def test_affordable_without_frequency_offers_each_allowed_cadence():
    proposals = propose_plans(usd(77500), BRIGHTWORK, TODAY, affordable=usd(20000))
    assert [p.frequency for p in proposals] == ["biweekly", "monthly"]  # biweekly ends sooner
    assert {p.count for p in proposals} == {4}


@pytest.mark.parametrize(
    "balance, affordable",
    [
        (77500, 10000),  # would need 8 installments, policy allows 6
        (77500, 2000),  # under the creditor's $25 minimum installment
        (3000, 2600),  # two installments would be $15 each, under the minimum; one is $30, too much
    ],
)
def test_no_plan_when_policy_cannot_meet_what_they_can_afford(balance, affordable):
    assert propose_plans(usd(balance), BRIGHTWORK, TODAY, affordable=usd(affordable)) == []


def test_a_balance_under_the_minimum_is_one_scheduled_payment():
    proposals = propose_plans(usd(750), BRIGHTWORK, TODAY)
    assert [(p.count, p.total) for p in proposals] == [(1, usd(750))]


def test_no_plans_when_policy_allows_none():
    assert propose_plans(usd(36615), NO_PLANS, TODAY) == []


def test_first_payment_within_thirty_days():
    later = TODAY + timedelta(days=FIRST_PAYMENT_MAX_DAYS)
    assert propose_plans(usd(77500), BRIGHTWORK, TODAY, first_due=later)[0].first_due == later
    assert propose_plans(usd(77500), BRIGHTWORK, TODAY, first_due=later + timedelta(days=1)) == []
    assert propose_plans(usd(77500), BRIGHTWORK, TODAY, first_due=TODAY - timedelta(days=1)) == []


# --- re-checking a confirmed proposal --------------------------------------------------------------


def test_plan_problem_accepts_what_was_proposed():
    for proposal in propose_plans(usd(77500), BRIGHTWORK, TODAY):
        assert plan_problem(proposal, usd(77500), BRIGHTWORK, TODAY) is None


@pytest.mark.parametrize(
    "proposal, code",
    [
        (build_plan(usd(77500), "weekly", 3, TODAY), "frequency_not_allowed"),
        (build_plan(usd(77000), "monthly", 3, TODAY), "total_mismatch"),  # the balance changed since
        (build_plan(usd(77500), "monthly", 7, TODAY), "too_many_installments"),
        (build_plan(usd(77500), "monthly", 2, TODAY - timedelta(days=1)), "date_in_past"),
        (build_plan(usd(77500), "monthly", 2, TODAY + timedelta(days=31)), "first_date_too_late"),
        (PlanProposal("monthly", (Installment(TODAY, usd(77400)), Installment(TODAY + timedelta(days=3), usd(100)))),
         "installment_too_small"),
        (PlanProposal("monthly", (Installment(TODAY, usd(40000)), Installment(TODAY + timedelta(days=3), usd(37500)))),
         "uneven_installments"),
        (PlanProposal("monthly", (Installment(TODAY, usd(38750)), Installment(TODAY + timedelta(days=3), usd(38750)))),
         "dates_do_not_match_frequency"),
    ],
)
def test_plan_problem_codes(proposal, code):
    assert plan_problem(proposal, usd(77500), BRIGHTWORK, TODAY) == code


# --- settlements and promises ----------------------------------------------------------------------


def test_settlement_rounds_up_to_the_minor_unit():
    offer = settlement_offer(usd(10001), BRIGHTWORK, TODAY)
    assert offer.amount == usd(8001)  # 80.008 -> 80.01: the creditor never gets less than its floor
    assert offer.expires == TODAY + timedelta(days=7)
    assert offer.discount == usd(2000)


def test_no_settlement_without_a_floor_or_a_balance():
    assert settlement_offer(usd(10000), CreditorPolicy(plans_allowed=True), TODAY) is None
    assert settlement_offer(usd(0), BRIGHTWORK, TODAY) is None


@pytest.mark.parametrize(
    "amount, due, code",
    [
        (5000, TODAY + timedelta(days=14), None),  # the last day policy allows
        (5000, TODAY + timedelta(days=15), "date_too_late"),
        (5000, TODAY - timedelta(days=1), "date_in_past"),
        (499, TODAY, "amount_too_small"),  # under the $5 minimum partial payment
        (0, TODAY, "amount_too_small"),
        (77501, TODAY, "amount_above_balance"),
        (77500, TODAY, None),  # the whole balance
    ],
)
def test_promise_problem(amount, due, code):
    assert promise_problem(usd(amount), due, TODAY, BRIGHTWORK, usd(77500)) == code


def test_promise_with_nothing_due():
    assert promise_problem(usd(100), TODAY, TODAY, BRIGHTWORK, usd(0)) == "nothing_due"


# --- the property ----------------------------------------------------------------------------------

policies = st.builds(
    CreditorPolicy,
    plans_allowed=st.just(True),
    max_installments=st.integers(min_value=1, max_value=24),
    min_installment=st.one_of(st.none(), st.integers(min_value=1, max_value=50_000).map(usd)),
    frequencies=st.lists(st.sampled_from(FREQUENCIES), min_size=1, max_size=3, unique=True).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(
    balance=st.integers(min_value=1, max_value=10_000_000).map(usd),
    policy=policies,
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    frequency=st.one_of(st.none(), st.sampled_from(FREQUENCIES)),
    affordable=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000_000).map(usd)),
    first_offset=st.one_of(st.none(), st.integers(min_value=0, max_value=FIRST_PAYMENT_MAX_DAYS)),
)
def test_schedules_always_sum_to_the_balance_and_respect_policy(balance, policy, today, frequency, affordable,
                                                                first_offset):
    first_due = None if first_offset is None else today + timedelta(days=first_offset)
    proposals = propose_plans(balance, policy, today, frequency, affordable, first_due)
    assert len(proposals) <= 3
    assert [p.count for p in proposals] == sorted(p.count for p in proposals)  # shortest first
    minimum = policy.min_installment.minor if policy.min_installment else 1
    for proposal in proposals:
        amounts = [i.amount.minor for i in proposal.installments]
        assert sum(amounts) == balance.minor
        assert 1 <= proposal.count <= policy.max_installments
        assert max(amounts) - min(amounts) <= 1 and amounts == sorted(amounts, reverse=True)
        if balance.minor >= minimum:
            assert min(amounts) >= minimum
        else:
            assert proposal.count == 1  # the whole balance is below the minimum: one payment
        assert proposal.frequency in policy.frequencies
        assert frequency is None or proposal.frequency == frequency
        assert today <= proposal.first_due <= today + timedelta(days=FIRST_PAYMENT_MAX_DAYS)
        dues = [i.due for i in proposal.installments]
        assert dues == sorted(set(dues))
        if affordable is not None:
            assert max(amounts) <= affordable.minor
        assert plan_problem(proposal, balance, policy, today) is None
