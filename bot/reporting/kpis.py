"""The collection KPIs the dashboard shows, queried from the ledger (never counted on the side).

Sources: conversations from the communications record (written by Rasa's event broker, bot/records.py),
verification from verification_attempts (the conversation id is the attempt's address), handoffs,
money from the append-only ledger_entries, settlements/plans/promises from the payments tables and
opt-outs from consents. A conversation belongs to a creditor once it is about one of its accounts
(communications.account_ref). Periods are whole UTC days, both ends included.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from bot.ledger import schema as t
from bot.ledger import schema_agents as ag
from bot.ledger import schema_disputes as ds
from bot.ledger import schema_payments as p

PROMISE_KEPT_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    creditor_id: Optional[str] = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), timezone.utc)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(), timezone.utc)

    def days(self) -> List[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def _ratio(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _per_currency(rows: Iterable[Tuple[str, int]]) -> Dict[str, int]:
    totals: Dict[str, int] = defaultdict(int)
    for currency, minor in rows:
        totals[currency] += int(minor or 0)
    return dict(sorted(totals.items()))


class KpiReport:
    """Read-only queries over one engine; every method takes the dashboard's filters."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.engine = engine
        self.clock = clock

    # --- helpers -------------------------------------------------------------------------------

    def _rows(self, query: Select) -> List[Any]:
        with self.engine.connect() as connection:
            return connection.execute(query).all()

    @staticmethod
    def _accounts_of(filters: Filters, column) -> Any:
        """A WHERE clause keeping rows whose account_ref column belongs to the filtered creditor."""
        if filters.creditor_id is None:
            return True
        refs = select(t.accounts.c.account_ref).where(t.accounts.c.creditor_id == filters.creditor_id)
        return column.in_(refs)

    @staticmethod
    def _account_ids_of(filters: Filters, column) -> Any:
        if filters.creditor_id is None:
            return True
        return column.in_(select(t.accounts.c.id).where(t.accounts.c.creditor_id == filters.creditor_id))

    def creditors(self) -> List[Dict[str, str]]:
        rows = self._rows(select(t.creditors.c.id, t.creditors.c.name).order_by(t.creditors.c.name))
        return [{"id": r.id, "name": r.name} for r in rows]

    # --- conversations -------------------------------------------------------------------------

    def conversations_started(self, filters: Filters) -> Dict[str, datetime]:
        """Conversation id -> when the consumer first wrote, for conversations begun in the period."""
        c = t.communications
        first = func.min(c.c.recorded_at).label("first")
        query = select(c.c.conversation_id, first).where(c.c.direction == "in").group_by(c.c.conversation_id)
        if filters.creditor_id is not None:
            about = select(c.c.conversation_id).where(c.c.account_ref.is_not(None),
                                                      self._accounts_of(filters, c.c.account_ref))
            query = query.where(c.c.conversation_id.in_(about))
        query = query.having(and_(first >= filters.since, first < filters.until))
        return {r.conversation_id: r.first for r in self._rows(query)}

    def conversations_verified(self, filters: Filters) -> Dict[str, datetime]:
        """Conversation id -> first successful verification in the period."""
        va, a = t.verification_attempts, t.accounts
        query = (select(va.c.address, func.min(va.c.attempted_at).label("at"))
                 .where(va.c.succeeded.is_(True), va.c.attempted_at >= filters.since, va.c.attempted_at < filters.until)
                 .group_by(va.c.address))
        if filters.creditor_id is not None:
            query = query.where(va.c.consumer_id.in_(select(a.c.consumer_id).where(a.c.creditor_id == filters.creditor_id)))
        return {r.address: r.at for r in self._rows(query)}

    def handoffs(self, filters: Filters) -> List[Any]:
        h = t.handoffs
        return self._rows(select(h.c.id, h.c.conversation_id, h.c.created_at)
                          .where(h.c.created_at >= filters.since, h.c.created_at < filters.until,
                                 self._accounts_of(filters, h.c.account_ref)))

    def conversations_handed_off(self, conversation_ids: Iterable[str]) -> set:
        ids = list(conversation_ids)
        if not ids:
            return set()
        h = t.handoffs
        return {r[0] for r in self._rows(select(distinct(h.c.conversation_id)).where(h.c.conversation_id.in_(ids)))}

    # --- money -----------------------------------------------------------------------------------

    def payments(self, filters: Filters) -> List[Any]:
        """Every payment posted to the ledger in the period: (posted_at, currency, amount collected)."""
        e = t.ledger_entries
        return self._rows(select(e.c.posted_at, e.c.currency, (-e.c.amount_minor).label("collected"))
                          .where(e.c.kind == "payment", e.c.posted_at >= filters.since, e.c.posted_at < filters.until,
                                 self._account_ids_of(filters, e.c.account_id)))

    def settlements(self, filters: Filters) -> List[Any]:
        r = p.payment_requests
        return self._rows(select(r.c.id, r.c.currency, r.c.amount_minor)
                          .where(r.c.purpose == "settlement", r.c.status == "succeeded",
                                 r.c.completed_at >= filters.since, r.c.completed_at < filters.until,
                                 self._account_ids_of(filters, r.c.account_id)))

    def plans(self, filters: Filters) -> Dict[str, int]:
        pl = p.payment_plans
        mine = self._account_ids_of(filters, pl.c.account_id)
        in_period = and_(pl.c.created_at >= filters.since, pl.c.created_at < filters.until)
        ended = and_(pl.c.ended_at >= filters.since, pl.c.ended_at < filters.until)
        count = func.count(pl.c.id)
        with self.engine.connect() as connection:
            created = connection.execute(select(count).where(mine, in_period)).scalar_one()
            active = connection.execute(select(count).where(mine, pl.c.status == "active")).scalar_one()
            broken = connection.execute(select(count).where(mine, pl.c.status == "broken", ended)).scalar_one()
        return {"plans_created": created, "plans_active": active, "plans_broken": broken}

    def promises(self, filters: Filters) -> Dict[str, Any]:
        """Promises made in the period, and how many of them were kept within 7 days of being made."""
        pm = p.promises
        rows = self._rows(select(pm.c.status, pm.c.created_at, pm.c.resolved_at)
                          .where(pm.c.created_at >= filters.since, pm.c.created_at < filters.until,
                                 self._account_ids_of(filters, pm.c.account_id)))
        kept = sum(1 for r in rows if r.status == "kept" and r.resolved_at - r.created_at <= PROMISE_KEPT_WITHIN)
        return {"promises_made": len(rows), "promises_kept_7d": kept, "promise_kept_rate": _ratio(kept, len(rows))}

    def opt_outs(self, filters: Filters) -> int:
        cs, a, cn = t.consents, t.accounts, t.consumers
        query = select(func.count(cs.c.id)).where(cs.c.granted.is_(False), cs.c.recorded_at >= filters.since,
                                                  cs.c.recorded_at < filters.until)
        if filters.creditor_id is not None:
            phones = select(cn.c.phone).join(a, a.c.consumer_id == cn.c.id).where(a.c.creditor_id == filters.creditor_id)
            whatsapp = select("whatsapp:" + cn.c.phone).join(a, a.c.consumer_id == cn.c.id).where(
                a.c.creditor_id == filters.creditor_id)
            query = query.where(cs.c.address.in_(phones) | cs.c.address.in_(whatsapp))
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    # --- disputes and agents ----------------------------------------------------------------------

    def disputes(self, filters: Filters) -> Dict[str, Any]:
        """Disputes opened and resolved in the period, and the mean age (days) of those open at its end."""
        d = ds.disputes
        rows = self._rows(select(d.c.opened_at, d.c.resolved_at).where(self._account_ids_of(filters, d.c.account_id),
                                                                      d.c.opened_at < filters.until))
        since, until = filters.since, filters.until
        opened = [r for r in rows if since <= _aware(r.opened_at)]
        resolved = [r for r in rows if r.resolved_at is not None and since <= _aware(r.resolved_at) < until]
        # Open at the end of the period, or now if that is sooner (resolved later counts as open then).
        end = min(until, self.clock())
        still_open = [r for r in rows if _aware(r.opened_at) < end and (r.resolved_at is None or _aware(r.resolved_at) >= end)]
        ages = [(end - _aware(r.opened_at)).total_seconds() / 86400 for r in still_open]
        return {"disputes_opened": len(opened), "disputes_resolved": len(resolved),
                "dispute_open_age_days": round(sum(ages) / len(ages), 1) if ages else None}

    def first_reply_minutes(self, handoff_ids: List[int]) -> Optional[float]:
        """Median minutes from a handoff to its agent's first message to the consumer."""
        if not handoff_ids:
            return None
        h, m = t.handoffs, ag.agent_messages
        first = func.min(m.c.created_at).label("first")
        rows = self._rows(select(h.c.created_at, first).join(m, m.c.handoff_id == h.c.id)
                          .where(h.c.id.in_(handoff_ids)).group_by(h.c.id, h.c.created_at))
        waits = sorted((_aware(r.first) - _aware(r.created_at)).total_seconds() / 60 for r in rows)
        return round(waits[len(waits) // 2], 1) if waits else None

    # --- the dashboard's numbers -------------------------------------------------------------------

    def kpis(self, filters: Filters) -> Dict[str, Any]:
        started = self.conversations_started(filters)
        verified = self.conversations_verified(filters)
        handed_off = self.conversations_handed_off(started)
        handoffs = self.handoffs(filters)
        payments = self.payments(filters)
        collected = _per_currency((r.currency, r.collected) for r in payments)
        settlements = self.settlements(filters)
        contained = len(started) - len(handed_off)
        return {
            "conversations_started": len(started),
            "conversations_verified": len(verified),
            "conversations_contained": contained,
            "containment_rate": _ratio(contained, len(started)),
            "collected": collected,
            "collected_per_conversation": {cur: round(v / len(started)) for cur, v in collected.items()} if started else {},
            "payments": len(payments),
            "settlements": len(settlements),
            **self.plans(filters),
            **self.promises(filters),
            **self.disputes(filters),
            "handoffs": len(handoffs),
            "first_reply_minutes": self.first_reply_minutes([h.id for h in handoffs]),
            "opt_outs": self.opt_outs(filters),
        }

    def daily(self, filters: Filters) -> List[Dict[str, Any]]:
        """Per UTC day: conversations started and verified, payments and the money they collected."""
        started = Counter(_aware(at).date() for at in self.conversations_started(filters).values())
        verified = Counter(_aware(at).date() for at in self.conversations_verified(filters).values())
        payments = self.payments(filters)
        count = Counter(_aware(r.posted_at).date() for r in payments)
        money: Dict[date, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in payments:
            money[_aware(r.posted_at).date()][r.currency] += int(r.collected)
        return [{"day": day.isoformat(), "conversations_started": started[day], "conversations_verified": verified[day],
                 "payments": count[day], "collected": dict(money[day])} for day in filters.days()]


def _aware(moment: datetime) -> datetime:
    """Aggregates and reflected tables can hand back naive UTC (SQLite) or ISO text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
