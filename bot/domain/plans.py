"""Payment plans, settlements and promises to pay: what creditor policy lets the bot offer.

Pure functions over Money (integer minor units) and dates; no I/O. The payments service persists
what these functions propose, and re-checks a proposal with `plan_problem` before creating it, so a
proposal the consumer confirmed minutes ago cannot slip past a policy or balance that changed.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import List, Optional, Sequence, Tuple

from bot.domain.accounts import FREQUENCIES, CreditorPolicy
from bot.domain.money import Money

FIRST_PAYMENT_MAX_DAYS = 30  # product.md journey 7: the first payment falls within 30 days
DEFAULT_SETTLEMENT_DAYS = 7  # a settlement offer stands this long unless policy says otherwise
MAX_PROPOSALS = 3
# Shortest cadence first: "shortest first" orders proposals of equal count by how soon they end.
_FREQUENCY_ORDER = {name: i for i, name in enumerate(FREQUENCIES)}


@dataclass(frozen=True)
class Installment:
    """One scheduled payment of a plan, due on a calendar day in the consumer's time zone."""

    due: date
    amount: Money


@dataclass(frozen=True)
class PlanProposal:
    """A schedule the bot may offer: installments in due order, summing exactly to the balance."""

    frequency: str
    installments: Tuple[Installment, ...]

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {FREQUENCIES}, got {self.frequency!r}")
        if not self.installments:
            raise ValueError("a plan has at least one installment")
        object.__setattr__(self, "installments", tuple(self.installments))

    @property
    def total(self) -> Money:
        total = Money.zero(self.installments[0].amount.currency)
        for installment in self.installments:
            total = total + installment.amount
        return total

    @property
    def count(self) -> int:
        return len(self.installments)

    @property
    def first_due(self) -> date:
        return self.installments[0].due

    @property
    def last_due(self) -> date:
        return self.installments[-1].due

    @property
    def largest(self) -> Money:
        """The amount the consumer must be able to pay each time (the first installment)."""
        return max(self.installments, key=lambda i: i.amount.minor).amount

    @property
    def smallest(self) -> Money:
        return min(self.installments, key=lambda i: i.amount.minor).amount


@dataclass(frozen=True)
class Settlement:
    """A lump sum that settles the balance if paid by `expires` (inclusive)."""

    amount: Money
    expires: date
    balance: Optional[Money] = None  # what it settles; the discount is balance - amount

    @property
    def discount(self) -> Optional[Money]:
        return None if self.balance is None else self.balance - self.amount


def add_months(day: date, months: int, anchor_day: Optional[int] = None) -> date:
    """The same day of the month `months` later, clamped to the month's end (Jan 31 -> Feb 28 -> Mar 31)."""
    anchor = anchor_day or day.day
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(anchor, calendar.monthrange(year, month + 1)[1]))


def schedule_dates(first: date, frequency: str, count: int) -> Tuple[date, ...]:
    """Due dates from `first`: every 7 or 14 days, or monthly on the first date's day of the month."""
    if frequency == "weekly":
        return tuple(first + timedelta(days=7 * i) for i in range(count))
    if frequency == "biweekly":
        return tuple(first + timedelta(days=14 * i) for i in range(count))
    if frequency == "monthly":
        return tuple(add_months(first, i, anchor_day=first.day) for i in range(count))
    raise ValueError(f"frequency must be one of {FREQUENCIES}, got {frequency!r}")


def build_plan(balance: Money, frequency: str, count: int, first: date) -> PlanProposal:
    """`count` installments summing exactly to `balance`; they differ by at most one minor unit, larger first."""
    amounts = balance.split(count)
    dates = schedule_dates(first, frequency, count)
    return PlanProposal(frequency, tuple(Installment(d, a) for d, a in zip(dates, amounts)))


def _min_installment(policy: CreditorPolicy, currency: str) -> int:
    if policy.min_installment is None:
        return 1
    if policy.min_installment.currency != currency:
        raise ValueError(f"policy amounts are in {policy.min_installment.currency}, the balance in {currency}")
    return max(policy.min_installment.minor, 1)


def feasible_counts(balance: Money, policy: CreditorPolicy) -> List[int]:
    """Installment counts policy allows for this balance: 2..max_installments with every installment at
    least the minimum; a balance below two minimum installments can still be one scheduled payment."""
    if not policy.plans_allowed or balance.minor <= 0 or policy.max_installments < 1:
        return []
    minimum = _min_installment(policy, balance.currency)
    counts = [n for n in range(2, policy.max_installments + 1) if balance.minor // n >= minimum]
    return counts or [1]


def _frequencies(policy: CreditorPolicy, frequency: Optional[str]) -> List[str]:
    allowed = [f for f in policy.frequencies if f in FREQUENCIES]
    if frequency is not None:
        return [frequency] if frequency in allowed else []
    return allowed


def _sensible(counts: Sequence[int]) -> List[int]:
    """Up to three counts a person can choose between: the shortest, the longest and one between."""
    picks = {counts[0], counts[len(counts) // 2], counts[-1]}
    return sorted(picks)[:MAX_PROPOSALS]


def propose_plans(
    balance: Money,
    policy: CreditorPolicy,
    today: date,
    frequency: Optional[str] = None,
    affordable: Optional[Money] = None,
    first_due: Optional[date] = None,
) -> List[PlanProposal]:
    """Plans within policy for `balance`, at most three, shortest first; [] when policy allows none.

    Without `affordable`: for `frequency` (default: the policy's first listed frequency) the fewest,
    the most and a middle number of installments that policy allows. With `affordable` (what the
    consumer says they can pay each time): for each allowed frequency (or just `frequency`) the
    fewest installments none of which exceeds it, or [] when policy cannot get that low (too many
    installments needed, or installments under the creditor's minimum). The first payment is due on
    `first_due` (default today), which must fall within FIRST_PAYMENT_MAX_DAYS of today.
    """
    first = first_due or today
    if first < today or first > today + timedelta(days=FIRST_PAYMENT_MAX_DAYS):
        return []
    counts = feasible_counts(balance, policy)
    frequencies = _frequencies(policy, frequency)
    if not counts or not frequencies:
        return []
    if affordable is None:
        return [build_plan(balance, frequencies[0], n, first) for n in _sensible(counts)]
    if affordable.currency != balance.currency:
        raise ValueError(f"affordable is in {affordable.currency}, the balance in {balance.currency}")
    if affordable.minor <= 0:
        return []
    needed = -(-balance.minor // affordable.minor)  # ceil: the fewest installments of at most `affordable`
    fitting = [n for n in counts if n >= needed]
    if not fitting:
        return []
    proposals = [build_plan(balance, f, fitting[0], first) for f in frequencies]
    proposals.sort(key=lambda p: (p.count, p.last_due, _FREQUENCY_ORDER[p.frequency]))
    return proposals[:MAX_PROPOSALS]


def plan_problem(proposal: PlanProposal, balance: Money, policy: CreditorPolicy, today: date) -> Optional[str]:
    """Why policy or the balance rules this plan out now (a reason code), or None when it may be created."""
    if not policy.plans_allowed:
        return "plans_not_allowed"
    if proposal.frequency not in policy.frequencies:
        return "frequency_not_allowed"
    if proposal.total != balance:
        return "total_mismatch"
    if proposal.count > policy.max_installments:
        return "too_many_installments"
    if proposal.count > 1 or balance.minor >= _min_installment(policy, balance.currency):
        if proposal.smallest.minor < _min_installment(policy, balance.currency):
            return "installment_too_small"
    if proposal.largest.minor - proposal.smallest.minor > 1:
        return "uneven_installments"
    if proposal.first_due < today:
        return "date_in_past"
    if proposal.first_due > today + timedelta(days=FIRST_PAYMENT_MAX_DAYS):
        return "first_date_too_late"
    if tuple(i.due for i in proposal.installments) != schedule_dates(proposal.first_due, proposal.frequency,
                                                                      proposal.count):
        return "dates_do_not_match_frequency"
    return None


def settlement_offer(
    balance: Money, policy: CreditorPolicy, today: date, expiry_days: Optional[int] = None
) -> Optional[Settlement]:
    """balance x floor%, rounded UP to the minor unit (the creditor never gets less than its floor).

    None when the creditor allows no settlements, nothing is owed, or the floor leaves no discount.
    Expiry: `expiry_days`, else the policy's `settlement_expiry_days` if it has one, else 7 days.
    """
    if not policy.settlements_allowed or balance.minor <= 0:
        return None
    percent = int(policy.settlement_floor_percent)
    amount = -(-balance.minor * percent // 100)
    if amount <= 0 or amount >= balance.minor:
        return None
    days = expiry_days or getattr(policy, "settlement_expiry_days", None) or DEFAULT_SETTLEMENT_DAYS
    return Settlement(Money(amount, balance.currency), today + timedelta(days=days), balance)


def promise_problem(
    amount: Money, due: date, today: date, policy: CreditorPolicy, collectible: Money
) -> Optional[str]:
    """Why a promise to pay `amount` on `due` cannot be accepted (a reason code), or None.

    Codes: nothing_due, date_in_past, date_too_late (beyond policy.promise_max_days), amount_too_small
    (zero, or under the creditor's minimum partial payment unless it is the whole balance),
    amount_above_balance.
    """
    if collectible.minor <= 0:
        return "nothing_due"
    if due < today:
        return "date_in_past"
    if due > today + timedelta(days=policy.promise_max_days):
        return "date_too_late"
    if amount.currency != collectible.currency:
        raise ValueError(f"amount is in {amount.currency}, the balance in {collectible.currency}")
    if amount.minor <= 0:
        return "amount_too_small"
    if amount > collectible:
        return "amount_above_balance"
    minimum = policy.min_partial_payment
    if minimum is not None and amount.minor < minimum and amount != collectible:
        return "amount_too_small"
    return None
