"""SqlPayments: the payments tables (schema_payments) and the ledger entries money produces.

Every state change is one short transaction (`_write`: BEGIN IMMEDIATE on SQLite; row locks with
SELECT ... FOR UPDATE on PostgreSQL). Exactly-once rests on the database, not on timing:
- a gateway event is recorded under its own id with INSERT ... ON CONFLICT DO NOTHING, so a
  redelivered or concurrently delivered event finds the row and changes nothing;
- a successful charge is one `payment` ledger entry keyed `payment:<request id>` (unique), whatever
  number of events report it;
- the scheduler claims an installment with a conditional UPDATE (status scheduled/retrying ->
  processing); only the process whose UPDATE matched the row charges it.
Events that arrive before what they depend on (a refund before its payment) are kept with
applied_at NULL and applied right after the payment is.
"""
from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Row

from bot.ledger.store import SqlStore
from bot.domain.accounts import AccountNotFound, account_ref_key
from bot.domain.money import Money
from bot.domain.plans import PlanProposal
from bot.ledger import schema as t
from bot.ledger import schema_payments as p
from bot.payments import gateway as g
from bot.payments import model as m
from bot.payments.quiet_hours import local_today, next_contact_time

logger = logging.getLogger(__name__)

PAYABLE_STATUSES = ("open", "failed")  # a declined page may be tried again with another card
ONE_TIME_PURPOSES = ("full", "partial", "settlement")
DESCRIPTIONS = {
    "full": "Payment in full",
    "partial": "Partial payment",
    "settlement": "Settlement payment",
    "installment": "Payment plan installment",
    "setup": "Payment plan setup",
}
_ATTEMPT_KEY = re.compile(r"^installment:(\d+):attempt:(\d+)$")


def new_request_id() -> str:
    """Unguessable: the id is the capability in the hosted page's URL."""
    return "pr_" + secrets.token_urlsafe(18)


def _iso(value: Any) -> Optional[str]:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class AccountInfo:
    id: int
    account_ref: str
    currency: str
    flags: Tuple[str, ...]
    timezone: str
    language: str
    email: Optional[str]
    creditor_name: str
    creditor_role: str

    @property
    def stop_reason(self) -> Optional[str]:
        return next((f for f in self.flags if f in m.STOP_FLAGS), None)


@dataclass(frozen=True)
class Applied:
    """What applying one gateway event did."""

    duplicate: bool = False  # seen before (same event id): nothing changed
    pending: bool = False  # kept until the event it depends on arrives
    request_id: Optional[str] = None
    notifications: Tuple[int, ...] = ()


@dataclass(frozen=True)
class Claim:
    """An installment attempt this process owns and must charge (with exactly this idempotency key)."""

    installment_id: int
    attempt: int
    request_id: str
    idempotency_key: str
    account_ref: str
    amount: Money
    payment_method_ref: str
    customer_ref: Optional[str]


@dataclass(frozen=True)
class ClaimResult:
    """kind: charge (see claim) | paused (collection stopped or all held) | completed (nothing owed) | lost."""

    kind: str
    claim: Optional[Claim] = None
    reason: Optional[str] = None  # why a paused installment was not charged (also kept in its last_error)


def _insert_ignore(connection: Connection, table, values: Dict[str, Any], conflict: Sequence[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was inserted."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = pg_dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    elif dialect == "sqlite":
        statement = sqlite_dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    return connection.execute(statement).rowcount == 1


def _balance(connection: Connection, account_id: int) -> int:
    le = t.ledger_entries
    return int(connection.execute(
        select(func.coalesce(func.sum(le.c.amount_minor), 0)).where(le.c.account_id == account_id)).scalar_one())


def _held(connection: Connection, account_id: int) -> int:
    h = t.holds
    return int(connection.execute(
        select(func.coalesce(func.sum(h.c.amount_minor), 0))
        .where(h.c.account_id == account_id, h.c.released_at.is_(None))).scalar_one())


def _paid_since(connection: Connection, account_id: int, since: datetime) -> int:
    le = t.ledger_entries
    total = connection.execute(
        select(func.coalesce(func.sum(le.c.amount_minor), 0))
        .where(le.c.account_id == account_id, le.c.kind == "payment", le.c.posted_at >= since)).scalar_one()
    return -int(total)


class SqlPayments(SqlStore):
    """Queries and transactions of the payments tables, on the ledger's (migrated) engine."""

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    # --- accounts -----------------------------------------------------------------------------------

    def _account(self, connection: Connection, *, ref: Optional[str] = None,
                 account_id: Optional[int] = None) -> AccountInfo:
        a, c, cr = t.accounts, t.consumers, t.creditors
        query = (
            select(a.c.id, a.c.account_ref, a.c.currency, a.c.flags, c.c.timezone, c.c.language, c.c.email,
                   cr.c.name.label("creditor_name"), cr.c.role)
            .join(c, c.c.id == a.c.consumer_id).join(cr, cr.c.id == a.c.creditor_id)
        )
        if account_id is not None:
            query = query.where(a.c.id == account_id)
        else:
            key = account_ref_key(ref or "")
            query = query.where(a.c.ref_key == key) if key else query.where(False)
        row = connection.execute(query).first()
        if row is None:
            raise AccountNotFound(f"no account with reference {ref!r}")
        return AccountInfo(row.id, row.account_ref, row.currency, tuple(json.loads(row.flags or "[]")),
                           row.timezone, row.language, row.email, row.creditor_name, row.role)

    def account(self, account_ref: str) -> AccountInfo:
        with self._read() as connection:
            return self._account(connection, ref=account_ref)

    # --- payment requests ---------------------------------------------------------------------------

    def create_request(self, values: Dict[str, Any]) -> None:
        """Insert a request row (the service fills every column); one-time requests supersede older
        open ones of the account, whose pages then say the link was replaced."""
        with self._write() as connection:
            connection.execute(insert(p.payment_requests).values(**values))

    def supersede_open_requests(self, account_id: int, keep_id: str, now: datetime) -> List[str]:
        """Cancel the account's other payable one-time requests; returns their gateway refs to expire."""
        pr = p.payment_requests
        condition = (pr.c.account_id == account_id, pr.c.id != keep_id, pr.c.status.in_(PAYABLE_STATUSES),
                     pr.c.purpose.in_(ONE_TIME_PURPOSES))
        with self._write() as connection:
            refs = connection.execute(select(pr.c.gateway_ref).where(*condition)).scalars().all()
            connection.execute(update(pr).where(*condition).values(status="cancelled", updated_at=now))
        return [ref for ref in refs if ref]

    def set_checkout(self, request_id: str, url: str, gateway_ref: str, customer_ref: Optional[str],
                     now: datetime) -> None:
        pr = p.payment_requests
        with self._write() as connection:
            connection.execute(update(pr).where(pr.c.id == request_id)
                               .values(url=url, gateway_ref=gateway_ref, updated_at=now))
            plan_id = connection.execute(select(pr.c.plan_id).where(pr.c.id == request_id)).scalar()
            if plan_id and customer_ref:
                pl = p.payment_plans
                connection.execute(update(pl).where(pl.c.id == plan_id, pl.c.customer_ref.is_(None))
                                   .values(customer_ref=customer_ref))

    def pending_checkouts(self) -> List[Row]:
        """Open requests whose hosted page the gateway has not created yet (it was unavailable)."""
        pr = p.payment_requests
        with self._read() as connection:
            return connection.execute(select(pr).where(
                pr.c.status == "open", pr.c.url.is_(None), pr.c.gateway_ref.is_(None),
                or_(pr.c.purpose.in_(ONE_TIME_PURPOSES), pr.c.save_method.is_(True)))
                .order_by(pr.c.created_at)).all()

    def queue_link_ready(self, request_id: str, now: datetime, policy: m.RetryPolicy) -> List[int]:
        """Queue the late link for the conversation that asked for it (the outbox delivers it)."""
        pr = p.payment_requests
        with self._write() as connection:
            row = connection.execute(select(pr).where(pr.c.id == request_id)).one()
            queued = self._notify(connection, row, m.EVENT_LINK_READY, f"{m.EVENT_LINK_READY}:{request_id}", now,
                                  policy)
        return [queued] if queued else []

    def abandon_request(self, request_id: str, now: datetime) -> None:
        """The gateway could not create the page: the request (and a plan waiting on it) is cancelled."""
        pr, pl = p.payment_requests, p.payment_plans
        with self._write() as connection:
            row = connection.execute(select(pr).where(pr.c.id == request_id)).first()
            if row is None:
                return
            connection.execute(update(pr).where(pr.c.id == request_id).values(status="cancelled", updated_at=now))
            if row.plan_id:
                plan = connection.execute(select(pl).where(pl.c.id == row.plan_id)).first()
                if plan is not None and plan.status == "pending":
                    self._end_plan(connection, plan.id, "cancelled", now)

    def request_row(self, request_id: str) -> Optional[Row]:
        with self._read() as connection:
            return connection.execute(select(p.payment_requests).where(p.payment_requests.c.id == request_id)).first()

    def request_view(self, request_id: str) -> Optional[m.PaymentRequestView]:
        with self._read() as connection:
            row = connection.execute(select(p.payment_requests).where(p.payment_requests.c.id == request_id)).first()
            return self._view(connection, row) if row is not None else None

    def recent_requests(self, account_id: int, limit: int = 5) -> List[m.PaymentRequestView]:
        pr = p.payment_requests
        with self._read() as connection:
            rows = connection.execute(
                select(pr).where(pr.c.account_id == account_id, pr.c.purpose != "setup")
                .order_by(pr.c.created_at.desc(), pr.c.id).limit(limit)).all()
            return [self._view(connection, row) for row in rows]

    def _view(self, connection: Connection, row: Row) -> m.PaymentRequestView:
        info = self._account(connection, account_id=row.account_id)
        plan_status = seq = count = next_retry = None
        if row.plan_id:
            plan_status = connection.execute(
                select(p.payment_plans.c.status).where(p.payment_plans.c.id == row.plan_id)).scalar()
            count = connection.execute(select(func.count()).select_from(p.plan_installments)
                                       .where(p.plan_installments.c.plan_id == row.plan_id)).scalar()
        if row.installment_id:
            inst = connection.execute(select(p.plan_installments)
                                      .where(p.plan_installments.c.id == row.installment_id)).first()
            seq = inst.seq
            next_retry = inst.next_attempt_at if inst.status == "retrying" else None
        return m.PaymentRequestView(
            id=row.id,
            account_ref=info.account_ref,
            amount=Money(row.amount_minor, row.currency),
            purpose=row.purpose,
            status=row.status,
            outcome=_outcome(row),
            decline_reason=row.decline_reason,
            url=row.url,
            created_at=row.created_at,
            expires_at=row.expires_at,
            completed_at=row.completed_at,
            balance_after=Money(row.balance_after_minor, row.currency) if row.balance_after_minor is not None else None,
            refunded=Money(row.refunded_minor, row.currency),
            conversation_id=row.conversation_id,
            channel=row.channel,
            language=info.language,
            creditor_name=info.creditor_name,
            plan_id=row.plan_id,
            plan_status=plan_status,
            installment_seq=seq,
            installment_count=count,
            next_retry_at=next_retry,
            payment_ref=row.payment_ref,
            creditor_is_agency=info.creditor_role == "agency",
            consumer_timezone=info.timezone,
        )

    def expire_requests(self, now: datetime) -> int:
        """Payable requests past their expiry become expired; a plan still waiting on one is cancelled."""
        pr = p.payment_requests
        with self._write() as connection:
            rows = connection.execute(select(pr.c.id, pr.c.plan_id).where(
                pr.c.status.in_(PAYABLE_STATUSES), pr.c.expires_at <= now, pr.c.url.isnot(None))).all()
            for row in rows:
                connection.execute(update(pr).where(pr.c.id == row.id, pr.c.status.in_(PAYABLE_STATUSES))
                                   .values(status="expired", updated_at=now))
                if row.plan_id:
                    plan = connection.execute(select(p.payment_plans)
                                              .where(p.payment_plans.c.id == row.plan_id)).first()
                    if plan is not None and plan.status == "pending":
                        self._end_plan(connection, plan.id, "cancelled", now)
        return len(rows)

    # --- settlement offers --------------------------------------------------------------------------

    def settlement_offer(self, account_id: int, collectible_minor: int, today: date) -> Optional[Row]:
        """The standing offer for this collectible balance, if one is unexpired."""
        so = p.settlement_offers
        with self._read() as connection:
            return connection.execute(
                select(so).where(so.c.account_id == account_id, so.c.status == "offered",
                                 so.c.balance_minor == collectible_minor, so.c.expires_on >= today)
                .order_by(so.c.id.desc()).limit(1)).first()

    def save_settlement_offer(self, account_id: int, amount_minor: int, collectible_minor: int, currency: str,
                              floor_percent: int, expires_on: date, now: datetime) -> int:
        """Withdraw older offers and record this one; a later call with the same balance reuses it."""
        so = p.settlement_offers
        with self._write() as connection:
            existing = connection.execute(
                select(so.c.id).where(so.c.account_id == account_id, so.c.status == "offered",
                                      so.c.balance_minor == collectible_minor, so.c.expires_on >= now.date())
                .order_by(so.c.id.desc()).limit(1)).scalar()
            if existing:
                return int(existing)
            connection.execute(update(so).where(so.c.account_id == account_id, so.c.status == "offered")
                               .values(status="withdrawn"))
            result = connection.execute(insert(so).values(
                account_id=account_id, amount_minor=amount_minor, balance_minor=collectible_minor,
                currency=currency, floor_percent=floor_percent, expires_on=expires_on, status="offered",
                created_at=now))
            return int(result.inserted_primary_key[0])

    # --- plans --------------------------------------------------------------------------------------

    def create_plan(
        self,
        account_id: int,
        proposal: PlanProposal,
        attempts_at: Sequence[datetime],
        conversation_id: Optional[str],
        channel: Optional[str],
        now: datetime,
        payment_method_ref: Optional[str] = None,
        customer_ref: Optional[str] = None,
        setup_request: Optional[Dict[str, Any]] = None,
        replace_live: bool = False,
    ) -> int:
        """The plan, its installments and (when the card must be saved first) its setup request, in one
        transaction. With `replace_live`, the live plan is marked replaced (its card carried over by the
        caller); without it, an existing live plan raises PlanRefused('plan_exists')."""
        pl, pi = p.payment_plans, p.plan_installments
        with self._write() as connection:
            live = self._live_plan_row(connection, account_id, lock=True)
            if live is not None:
                if not replace_live:
                    raise m.PlanRefused("plan_exists")
                self._end_plan(connection, live.id, "replaced", now)
            status = "active" if payment_method_ref else "pending"
            result = connection.execute(insert(pl).values(
                account_id=account_id, frequency=proposal.frequency, status=status,
                total_minor=proposal.total.minor, currency=proposal.total.currency,
                payment_method_ref=payment_method_ref, customer_ref=customer_ref, misses=0,
                conversation_id=conversation_id, channel=channel, created_at=now, updated_at=now))
            plan_id = int(result.inserted_primary_key[0])
            installment_ids = []
            for seq, (installment, at) in enumerate(zip(proposal.installments, attempts_at), start=1):
                result = connection.execute(insert(pi).values(
                    plan_id=plan_id, seq=seq, due=installment.due, amount_minor=installment.amount.minor,
                    status="scheduled", attempts=0, next_attempt_at=at))
                installment_ids.append(int(result.inserted_primary_key[0]))
            if setup_request is not None:
                values = dict(setup_request, plan_id=plan_id)
                if values.get("purpose") == "installment":
                    values["installment_id"] = installment_ids[0]
                connection.execute(insert(p.payment_requests).values(**values))
            return plan_id

    def _live_plan_row(self, connection: Connection, account_id: int, lock: bool = False) -> Optional[Row]:
        pl = p.payment_plans
        query = select(pl).where(pl.c.account_id == account_id, pl.c.status.in_(p.LIVE_PLAN_STATUSES))
        if lock:
            query = query.with_for_update()
        return connection.execute(query).first()

    def live_plan_method(self, account_id: int) -> Tuple[Optional[str], Optional[str]]:
        """(payment method, customer) of the live plan, for a changed plan to carry over."""
        with self._read() as connection:
            row = self._live_plan_row(connection, account_id)
        return (row.payment_method_ref, row.customer_ref) if row is not None else (None, None)

    def _end_plan(self, connection: Connection, plan_id: int, status: str, now: datetime) -> None:
        """End a plan: its open installments and its payable requests are cancelled."""
        pl, pi, pr = p.payment_plans, p.plan_installments, p.payment_requests
        connection.execute(update(pl).where(pl.c.id == plan_id)
                           .values(status=status, updated_at=now, ended_at=now))
        connection.execute(update(pi).where(pi.c.plan_id == plan_id, pi.c.status.in_(("scheduled", "retrying")))
                           .values(status="cancelled"))
        connection.execute(update(pr).where(pr.c.plan_id == plan_id, pr.c.status.in_(PAYABLE_STATUSES),
                                            pr.c.url.isnot(None))
                           .values(status="cancelled", updated_at=now))

    def cancel_live_plan(self, account_id: int, now: datetime) -> bool:
        with self._write() as connection:
            live = self._live_plan_row(connection, account_id, lock=True)
            if live is None:
                return False
            self._end_plan(connection, live.id, "cancelled", now)
            return True

    def set_plan_method(self, plan_id: int, payment_method_ref: str, now: datetime) -> None:
        """A new saved payment method for a plan (the consumer updated their card)."""
        pl = p.payment_plans
        with self._write() as connection:
            connection.execute(update(pl).where(pl.c.id == plan_id)
                               .values(payment_method_ref=payment_method_ref, updated_at=now))

    def plan_view(self, plan_id: int) -> Optional[m.PlanView]:
        with self._read() as connection:
            row = connection.execute(select(p.payment_plans).where(p.payment_plans.c.id == plan_id)).first()
            return self._plan_view(connection, row) if row is not None else None

    def current_plan(self, account_id: int) -> Optional[m.PlanView]:
        """The live plan, else the most recent one (so "did it go through?" can say it was broken)."""
        pl = p.payment_plans
        with self._read() as connection:
            row = self._live_plan_row(connection, account_id) or connection.execute(
                select(pl).where(pl.c.account_id == account_id).order_by(pl.c.id.desc()).limit(1)).first()
            return self._plan_view(connection, row) if row is not None else None

    def _plan_view(self, connection: Connection, row: Row) -> m.PlanView:
        pi, pr = p.plan_installments, p.payment_requests
        info = self._account(connection, account_id=row.account_id)
        installments = tuple(
            m.InstallmentView(i.id, i.seq, i.due, Money(i.amount_minor, row.currency), i.status, i.attempts,
                              i.next_attempt_at, i.last_error)
            for i in connection.execute(select(pi).where(pi.c.plan_id == row.id).order_by(pi.c.seq)))
        setup_url = None
        if row.status == "pending":
            setup_url = connection.execute(
                select(pr.c.url).where(pr.c.plan_id == row.id, pr.c.status.in_(PAYABLE_STATUSES),
                                       pr.c.url.isnot(None)).order_by(pr.c.created_at.desc()).limit(1)).scalar()
        return m.PlanView(row.id, info.account_ref, row.frequency, row.status, Money(row.total_minor, row.currency),
                          installments, row.created_at, bool(row.payment_method_ref), setup_url)

    # --- the scheduler ------------------------------------------------------------------------------

    def due_installment_ids(self, now: datetime, stale_before: datetime, limit: int = 200) -> List[int]:
        pi, pl = p.plan_installments, p.payment_plans
        query = (
            select(pi.c.id).join(pl, pl.c.id == pi.c.plan_id)
            .where(pl.c.status == "active")
            .where(((pi.c.status.in_(("scheduled", "retrying"))) & (pi.c.next_attempt_at <= now))
                   | ((pi.c.status == "processing") & (pi.c.claimed_at < stale_before)))
            .order_by(pi.c.next_attempt_at, pi.c.id).limit(limit)
        )
        with self._read() as connection:
            return list(connection.execute(query).scalars())

    def claim_installment(self, installment_id: int, now: datetime, stale_before: datetime,
                          policy: m.RetryPolicy, gateway_name: str) -> ClaimResult:
        """Take one due installment atomically; only the caller whose UPDATE matched may charge it."""
        pi, pl, pr = p.plan_installments, p.payment_plans, p.payment_requests
        with self._write() as connection:
            fresh = connection.execute(
                update(pi).where(pi.c.id == installment_id, pi.c.status.in_(("scheduled", "retrying")),
                                 pi.c.next_attempt_at <= now)
                .values(status="processing", attempts=pi.c.attempts + 1, claimed_at=now)).rowcount
            if not fresh:
                stale = connection.execute(
                    update(pi).where(pi.c.id == installment_id, pi.c.status == "processing",
                                     pi.c.claimed_at < stale_before).values(claimed_at=now)).rowcount
                if not stale:
                    return ClaimResult("lost")
            inst = connection.execute(select(pi).where(pi.c.id == installment_id)).one()
            plan = connection.execute(select(pl).where(pl.c.id == inst.plan_id)).one()
            info = self._account(connection, account_id=plan.account_id)
            balance = _balance(connection, plan.account_id)
            collectible = balance - _held(connection, plan.account_id)
            if plan.status != "active" or not plan.payment_method_ref:
                self._unclaim(connection, inst, now + timedelta(days=1))
                return ClaimResult("paused")
            if balance <= 0:
                connection.execute(update(pi).where(pi.c.id == inst.id).values(status="cancelled", claimed_at=None))
                self._end_plan(connection, plan.id, "completed", now)
                return ClaimResult("completed")
            if info.stop_reason or collectible <= 0:
                # Collection stopped (bankruptcy, cease...) or all of it disputed: no charge, no miss.
                reason = f"collection_stopped:{info.stop_reason}" if info.stop_reason else "on_hold"
                self._unclaim(connection, inst, now + timedelta(days=1), reason)
                return ClaimResult("paused", reason=reason)
            amount = min(inst.amount_minor, collectible)
            key = f"installment:{inst.id}:attempt:{inst.attempts}"
            existing = connection.execute(select(pr).where(pr.c.idempotency_key == key)).first()
            if existing is not None:
                request_id, amount = existing.id, existing.amount_minor
            else:
                request_id = new_request_id()
                connection.execute(insert(pr).values(
                    id=request_id, account_id=plan.account_id, amount_minor=amount, currency=plan.currency,
                    purpose="installment", status="open", gateway=gateway_name, idempotency_key=key,
                    save_method=False, plan_id=plan.id, installment_id=inst.id, refunded_minor=0, disputed_minor=0,
                    conversation_id=plan.conversation_id, channel=plan.channel,
                    expires_at=now + timedelta(hours=policy.request_ttl_hours), created_at=now, updated_at=now))
            return ClaimResult("charge", Claim(inst.id, inst.attempts, request_id, key, info.account_ref,
                                               Money(amount, plan.currency), plan.payment_method_ref,
                                               plan.customer_ref))

    @staticmethod
    def _unclaim(connection: Connection, inst: Row, next_attempt_at: datetime, reason: Optional[str] = None) -> None:
        pi = p.plan_installments
        previous = "retrying" if inst.attempts > 1 else "scheduled"
        values = dict(status=previous, attempts=inst.attempts - 1, claimed_at=None, next_attempt_at=next_attempt_at)
        if reason:
            values["last_error"] = f"paused:{reason}"[:60]
        connection.execute(update(pi).where(pi.c.id == inst.id).values(**values))

    def release_claim(self, claim: Claim) -> None:
        """The gateway was unreachable: give the attempt back so the next run retries it with the same key."""
        pi = p.plan_installments
        with self._write() as connection:
            inst = connection.execute(select(pi).where(pi.c.id == claim.installment_id)).one()
            if inst.status == "processing" and inst.attempts == claim.attempt:
                connection.execute(update(pi).where(pi.c.id == inst.id).values(
                    status="retrying" if claim.attempt > 1 else "scheduled", attempts=claim.attempt - 1,
                    claimed_at=None))

    # --- gateway events -----------------------------------------------------------------------------

    def apply_event(self, event: g.GatewayEvent, now: datetime, policy: m.RetryPolicy) -> Applied:
        """Record the event under its id and apply it, in one transaction; a known id changes nothing."""
        with self._write() as connection:
            inserted = _insert_ignore(connection, p.gateway_events, dict(
                id=event.id, type=event.type, request_id=event.request_id, payment_ref=event.payment_ref,
                body=event.to_json(), received_at=now, applied_at=None), ["id"])
            if not inserted:
                return Applied(duplicate=True, request_id=event.request_id)
            return self._apply(connection, event, now, policy)

    def _apply(self, connection: Connection, event: g.GatewayEvent, now: datetime, policy: m.RetryPolicy) -> Applied:
        ge = p.gateway_events
        if event.type == g.IGNORED:
            connection.execute(update(ge).where(ge.c.id == event.id).values(applied_at=now))
            return Applied()
        request = self._find_request(connection, event)
        if request is None:
            logger.info("gateway event %s (%s) matches no payment request yet; kept", event.id, event.type)
            return Applied(pending=True)
        handler = {
            g.PAYMENT_SUCCEEDED: self._on_succeeded,
            g.METHOD_SAVED: self._on_method_saved,
            g.PAYMENT_FAILED: self._on_failed,
            g.REFUNDED: self._on_refunded,
            g.CHARGEBACK: self._on_chargeback,
            g.CHARGEBACK_REVERSED: self._on_chargeback_reversed,
            g.CHECKOUT_EXPIRED: self._on_checkout_expired,
        }[event.type]
        done, notifications = handler(connection, request, event, now, policy)
        connection.execute(update(ge).where(ge.c.id == event.id)
                           .values(request_id=request.id, applied_at=now if done else None))
        if not done:
            return Applied(pending=True, request_id=request.id)
        if event.type in (g.PAYMENT_SUCCEEDED, g.METHOD_SAVED, g.CHARGEBACK):
            notifications += self._apply_waiting(connection, request.id, event.id, now, policy)
        return Applied(request_id=request.id, notifications=tuple(n for n in notifications if n))

    def _apply_waiting(self, connection: Connection, request_id: str, current_id: str, now: datetime,
                       policy: m.RetryPolicy) -> List[int]:
        """Events that came too early (a refund before its payment) now apply, oldest first."""
        ge, pr = p.gateway_events, p.payment_requests
        payment_ref = connection.execute(select(pr.c.payment_ref).where(pr.c.id == request_id)).scalar()
        condition = ge.c.request_id == request_id
        if payment_ref:
            condition = condition | (ge.c.payment_ref == payment_ref)
        waiting = connection.execute(
            select(ge).where(ge.c.applied_at.is_(None), ge.c.id != current_id, condition)
            .order_by(ge.c.received_at, ge.c.id)).all()
        notifications: List[int] = []
        for row in waiting:
            applied = self._apply(connection, g.GatewayEvent.from_json(row.body), now, policy)
            notifications += list(applied.notifications)
        return notifications

    def _find_request(self, connection: Connection, event: g.GatewayEvent) -> Optional[Row]:
        pr = p.payment_requests
        for column, value in ((pr.c.id, event.request_id), (pr.c.payment_ref, event.payment_ref),
                              (pr.c.gateway_ref, event.gateway_ref)):
            if value:
                row = connection.execute(select(pr).where(column == value).with_for_update()).first()
                if row is not None:
                    return row
        return None

    def _entry(self, connection: Connection, request: Row, kind: str, amount_minor: int, key: str,
               description: str, reference: Optional[str], now: datetime) -> bool:
        return _insert_ignore(connection, t.ledger_entries, dict(
            account_id=request.account_id, kind=kind, amount_minor=amount_minor, currency=request.currency,
            posted_at=now, reference=reference, description=description, idempotency_key=key), ["idempotency_key"])

    def _on_succeeded(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                      policy: m.RetryPolicy):
        pr, pi, pl = p.payment_requests, p.plan_installments, p.payment_plans
        if request.status in ("succeeded", "refunded"):
            self._save_method(connection, request, event, now)  # a second report of the same payment
            return True, []
        amount = event.amount_minor if event.amount_minor is not None else request.amount_minor
        if event.currency and event.currency != request.currency:
            logger.error("payment %s reported in %s, requested in %s", request.id, event.currency, request.currency)
        payment_ref = event.payment_ref or request.payment_ref
        self._entry(connection, request, "payment", -amount, f"payment:{request.id}", DESCRIPTIONS[request.purpose],
                    payment_ref or request.id, now)
        if request.purpose == "settlement":
            forgive = _balance(connection, request.account_id) - _held(connection, request.account_id)
            if forgive > 0:
                self._entry(connection, request, "credit", -forgive, f"settlement:{request.id}",
                            "Settlement discount", request.id, now)
            if request.settlement_offer_id:
                connection.execute(update(p.settlement_offers).where(p.settlement_offers.c.id == request.settlement_offer_id)
                                   .values(status="accepted"))
        balance_after = _balance(connection, request.account_id)
        connection.execute(update(pr).where(pr.c.id == request.id).values(
            status="succeeded", payment_ref=payment_ref, completed_at=now, balance_after_minor=balance_after,
            decline_reason=None, updated_at=now))
        if request.installment_id:
            connection.execute(update(pi).where(pi.c.id == request.installment_id).values(
                status="paid", paid_request_id=request.id, claimed_at=None, last_error=None))
        if request.plan_id:
            self._save_method(connection, request, event, now)
            plan = connection.execute(select(pl).where(pl.c.id == request.plan_id)).one()
            if plan.status == "pending":
                connection.execute(update(pl).where(pl.c.id == plan.id).values(status="active", updated_at=now))
            self._complete_plan_if_done(connection, plan.id, now)
        if balance_after - _held(connection, request.account_id) <= 0:
            live = self._live_plan_row(connection, request.account_id)
            if live is not None:
                self._end_plan(connection, live.id, "completed", now)
        self._keep_promises(connection, request.account_id, now)
        refreshed = connection.execute(select(pr).where(pr.c.id == request.id)).one()
        return True, [self._notify(connection, refreshed, m.EVENT_SUCCEEDED, f"{m.EVENT_SUCCEEDED}:{request.id}",
                                   now, policy)]

    def _save_method(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime) -> None:
        if not (request.plan_id and event.payment_method_ref):
            return
        pl = p.payment_plans
        values: Dict[str, Any] = {"payment_method_ref": event.payment_method_ref, "updated_at": now}
        if event.customer_ref:
            values["customer_ref"] = event.customer_ref
        connection.execute(update(pl).where(pl.c.id == request.plan_id, pl.c.payment_method_ref.is_(None))
                           .values(**values))

    def _complete_plan_if_done(self, connection: Connection, plan_id: int, now: datetime) -> None:
        pi, pl = p.plan_installments, p.payment_plans
        open_left = connection.execute(select(func.count()).select_from(pi).where(
            pi.c.plan_id == plan_id, pi.c.status.notin_(("paid", "cancelled")))).scalar_one()
        status = connection.execute(select(pl.c.status).where(pl.c.id == plan_id)).scalar()
        if not open_left and status in p.LIVE_PLAN_STATUSES:
            connection.execute(update(pl).where(pl.c.id == plan_id)
                               .values(status="completed", updated_at=now, ended_at=now))

    def _on_method_saved(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                         policy: m.RetryPolicy):
        pr, pl = p.payment_requests, p.payment_plans
        if request.status == "succeeded":
            return True, []
        connection.execute(update(pr).where(pr.c.id == request.id).values(
            status="succeeded", completed_at=now, decline_reason=None, updated_at=now,
            balance_after_minor=_balance(connection, request.account_id)))
        if not request.plan_id:
            return True, []
        self._save_method(connection, request, event, now)
        connection.execute(update(pl).where(pl.c.id == request.plan_id, pl.c.status == "pending")
                           .values(status="active", updated_at=now))
        refreshed = connection.execute(select(pr).where(pr.c.id == request.id)).one()
        return True, [self._notify(connection, refreshed, m.EVENT_PLAN_SETUP, f"{m.EVENT_PLAN_SETUP}:{request.id}",
                                   now, policy)]

    def _on_failed(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                   policy: m.RetryPolicy):
        pr, pi, pl = p.payment_requests, p.plan_installments, p.payment_plans
        if request.status not in PAYABLE_STATUSES:
            return True, []  # a late report of an earlier attempt, or a request already closed
        code = event.failure_code or "payment_failed"
        connection.execute(update(pr).where(pr.c.id == request.id).values(
            status="failed", decline_reason=code, payment_ref=event.payment_ref or request.payment_ref,
            updated_at=now))
        event_name = m.EVENT_FAILED
        match = _ATTEMPT_KEY.match(request.idempotency_key)
        if request.installment_id and match:
            inst = connection.execute(select(pi).where(pi.c.id == request.installment_id)).one()
            if inst.status == "processing" and inst.attempts == int(match.group(2)):
                if inst.attempts <= policy.max_retries:
                    connection.execute(update(pi).where(pi.c.id == inst.id).values(
                        status="retrying", claimed_at=None, last_error=code,
                        next_attempt_at=now + timedelta(days=policy.retry_after_days)))
                else:
                    connection.execute(update(pi).where(pi.c.id == inst.id).values(
                        status="failed", claimed_at=None, last_error=code))
                    connection.execute(update(pl).where(pl.c.id == inst.plan_id)
                                       .values(misses=pl.c.misses + 1, updated_at=now))
                    misses = connection.execute(select(pl.c.misses).where(pl.c.id == inst.plan_id)).scalar_one()
                    if misses >= policy.misses_to_break:
                        self._end_plan(connection, inst.plan_id, "broken", now)
                        event_name = m.EVENT_PLAN_BROKEN
        refreshed = connection.execute(select(pr).where(pr.c.id == request.id)).one()
        return True, [self._notify(connection, refreshed, event_name, f"{event_name}:{request.id}", now, policy)]

    def _on_refunded(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                     policy: m.RetryPolicy):
        pr = p.payment_requests
        if request.status not in ("succeeded", "refunded"):
            return False, []  # the payment itself has not been reported yet: keep the refund
        cumulative = event.amount_minor if event.amount_minor is not None else request.amount_minor
        if cumulative <= request.refunded_minor:
            return True, []  # an older, smaller refund total arriving late
        delta = cumulative - request.refunded_minor
        self._entry(connection, request, "adjustment", delta, f"refund:{request.id}:{cumulative}",
                    "Refund of a payment", event.payment_ref or request.payment_ref, now)
        fully = cumulative >= request.amount_minor
        if fully and request.purpose == "settlement":
            credit = connection.execute(select(t.ledger_entries.c.amount_minor).where(
                t.ledger_entries.c.idempotency_key == f"settlement:{request.id}")).scalar()
            if credit:
                self._entry(connection, request, "adjustment", -int(credit), f"settlement-reversed:{request.id}",
                            "Settlement discount withdrawn (payment refunded)", request.id, now)
        connection.execute(update(pr).where(pr.c.id == request.id).values(
            refunded_minor=cumulative, status="refunded" if fully else request.status, updated_at=now,
            balance_after_minor=_balance(connection, request.account_id)))
        refreshed = connection.execute(select(pr).where(pr.c.id == request.id)).one()
        return True, [self._notify(connection, refreshed, m.EVENT_REFUNDED, f"refund:{request.id}:{cumulative}",
                                   now, policy)]

    def _on_chargeback(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                       policy: m.RetryPolicy):
        pr = p.payment_requests
        if request.status not in ("succeeded", "refunded"):
            return False, []
        dispute = event.dispute_ref or event.id
        amount = event.amount_minor if event.amount_minor is not None else request.amount_minor
        if not self._entry(connection, request, "adjustment", amount, f"chargeback:{dispute}",
                           "Payment reversed by the card issuer (chargeback)", event.payment_ref, now):
            return True, []
        connection.execute(update(pr).where(pr.c.id == request.id).values(
            disputed_minor=request.disputed_minor + amount, updated_at=now,
            balance_after_minor=_balance(connection, request.account_id)))
        refreshed = connection.execute(select(pr).where(pr.c.id == request.id)).one()
        return True, [self._notify(connection, refreshed, m.EVENT_REVERSED, f"chargeback:{dispute}", now, policy)]

    def _on_chargeback_reversed(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                                policy: m.RetryPolicy):
        pr, le = p.payment_requests, t.ledger_entries
        dispute = event.dispute_ref or event.id
        opened = connection.execute(select(le.c.amount_minor).where(le.c.idempotency_key == f"chargeback:{dispute}")).scalar()
        if opened is None:
            return False, []  # the dispute's opening has not arrived yet
        if self._entry(connection, request, "adjustment", -int(opened), f"chargeback-won:{dispute}",
                       "Chargeback decided for the creditor", event.payment_ref, now):
            connection.execute(update(pr).where(pr.c.id == request.id).values(
                disputed_minor=max(0, request.disputed_minor - int(opened)), updated_at=now))
        return True, []

    def _on_checkout_expired(self, connection: Connection, request: Row, event: g.GatewayEvent, now: datetime,
                             policy: m.RetryPolicy):
        pr = p.payment_requests
        connection.execute(update(pr).where(pr.c.id == request.id, pr.c.status.in_(PAYABLE_STATUSES))
                           .values(status="expired", updated_at=now))
        return True, []

    # --- promises -----------------------------------------------------------------------------------

    def create_promise(self, account_id: int, amount: Money, due: date, conversation_id: Optional[str],
                       channel: Optional[str], now: datetime) -> int:
        """A new promise replaces a pending one (cancelled): one promise stands per account."""
        pm = p.promises
        with self._write() as connection:
            connection.execute(update(pm).where(pm.c.account_id == account_id, pm.c.status == "pending")
                               .values(status="cancelled", resolved_at=now))
            result = connection.execute(insert(pm).values(
                account_id=account_id, amount_minor=amount.minor, currency=amount.currency, due=due,
                status="pending", conversation_id=conversation_id, channel=channel, created_at=now))
            return int(result.inserted_primary_key[0])

    def promises(self, account_id: int, pending_only: bool = False) -> List[m.Promise]:
        pm = p.promises
        query = select(pm).where(pm.c.account_id == account_id).order_by(pm.c.created_at, pm.c.id)
        if pending_only:
            query = query.where(pm.c.status == "pending")
        with self._read() as connection:
            info = self._account(connection, account_id=account_id)
            return [m.Promise(r.id, info.account_ref, Money(r.amount_minor, r.currency), r.due, r.status,
                              r.created_at, r.resolved_at) for r in connection.execute(query)]

    def _keep_promises(self, connection: Connection, account_id: int, now: datetime) -> None:
        pm = p.promises
        for row in connection.execute(select(pm).where(pm.c.account_id == account_id, pm.c.status == "pending")).all():
            paid = _paid_since(connection, account_id, row.created_at)
            if paid >= row.amount_minor:
                connection.execute(update(pm).where(pm.c.id == row.id, pm.c.status == "pending")
                                   .values(status="kept", paid_minor=paid, resolved_at=now))

    def resolve_due_promises(self, now: datetime) -> Tuple[int, int]:
        """Promises whose date has passed in the consumer's time zone: kept if payments since the
        promise cover it, else broken. Returns (kept, broken)."""
        pm, a, c = p.promises, t.accounts, t.consumers
        kept = broken = 0
        with self._write() as connection:
            rows = connection.execute(
                select(pm.c.id, pm.c.account_id, pm.c.amount_minor, pm.c.due, pm.c.created_at, c.c.timezone)
                .join(a, a.c.id == pm.c.account_id).join(c, c.c.id == a.c.consumer_id)
                .where(pm.c.status == "pending", pm.c.due < now.date() + timedelta(days=1))).all()
            for row in rows:
                if row.due >= local_today(now, row.timezone):
                    continue
                paid = _paid_since(connection, row.account_id, row.created_at)
                status = "kept" if paid >= row.amount_minor else "broken"
                connection.execute(update(pm).where(pm.c.id == row.id, pm.c.status == "pending")
                                   .values(status=status, paid_minor=paid, resolved_at=now))
                kept, broken = kept + (status == "kept"), broken + (status == "broken")
        return kept, broken

    # --- notifications (outbox) ---------------------------------------------------------------------

    def _notify(self, connection: Connection, request: Row, event_name: str, dedupe_key: str, now: datetime,
                policy: m.RetryPolicy) -> Optional[int]:
        """Queue a message to the consumer's conversation, in the same transaction as the change it reports."""
        if not request.conversation_id:
            return None
        info = self._account(connection, account_id=request.account_id)
        if info.stop_reason and event_name not in (m.EVENT_SUCCEEDED, m.EVENT_REFUNDED):
            return None  # collection stopped: receipts only, nothing that asks for money
        initiated = (request.url is not None and event_name in (m.EVENT_SUCCEEDED, m.EVENT_FAILED, m.EVENT_PLAN_SETUP,
                                                                 m.EVENT_LINK_READY)
                     and now - request.created_at <= timedelta(minutes=policy.consumer_initiated_minutes))
        deliver_after = now if initiated else next_contact_time(now, info.timezone)
        payload = {"payment_request_id": request.id, "payment_event": event_name, "account_ref": info.account_ref,
                   "amount_minor": request.amount_minor, "currency": request.currency,
                   "decline_reason": request.decline_reason}
        pn = p.payment_notifications
        if not _insert_ignore(connection, pn, dict(
                dedupe_key=dedupe_key, request_id=request.id, account_id=request.account_id,
                conversation_id=request.conversation_id, channel=request.channel, event_name=event_name,
                payload=json.dumps(payload, sort_keys=True), status="pending", attempts=0,
                deliver_after=deliver_after, created_at=now), ["dedupe_key"]):
            return None
        return connection.execute(select(pn.c.id).where(pn.c.dedupe_key == dedupe_key)).scalar()

    def claim_notifications(self, now: datetime, lease: timedelta, limit: int = 50,
                            ids: Optional[Sequence[int]] = None) -> List[Row]:
        """Due notifications, each leased to the caller (a crashed sender's lease runs out and it is retried)."""
        pn = p.payment_notifications
        query = select(pn.c.id).where(pn.c.status == "pending", pn.c.deliver_after <= now)
        if ids is not None:
            query = query.where(pn.c.id.in_(list(ids)))
        claimed: List[Row] = []
        with self._read() as connection:
            candidates = list(connection.execute(query.order_by(pn.c.deliver_after, pn.c.id).limit(limit)).scalars())
        for notification_id in candidates:
            with self._write() as connection:
                if connection.execute(update(pn).where(pn.c.id == notification_id, pn.c.status == "pending",
                                                       pn.c.deliver_after <= now)
                                      .values(deliver_after=now + lease)).rowcount:
                    claimed.append(connection.execute(select(pn).where(pn.c.id == notification_id)).one())
        return claimed

    def notification_sent(self, notification_id: int, now: datetime) -> None:
        pn = p.payment_notifications
        with self._write() as connection:
            connection.execute(update(pn).where(pn.c.id == notification_id).values(
                status="sent", sent_at=now, attempts=pn.c.attempts + 1, last_error=None))

    def notification_failed(self, notification_id: int, now: datetime, error: str, max_attempts: int) -> None:
        """Back off exponentially (1, 2, 4 ... minutes, at most an hour); give up after max_attempts."""
        pn = p.payment_notifications
        with self._write() as connection:
            attempts = connection.execute(select(pn.c.attempts).where(pn.c.id == notification_id)).scalar_one() + 1
            delay = timedelta(minutes=min(2 ** (attempts - 1), 60))
            connection.execute(update(pn).where(pn.c.id == notification_id).values(
                attempts=attempts, last_error=error[:500], deliver_after=now + delay,
                status="failed" if attempts >= max_attempts else "pending"))

    def notifications(self, conversation_id: Optional[str] = None) -> List[Dict[str, Any]]:
        pn = p.payment_notifications
        query = select(pn).order_by(pn.c.id)
        if conversation_id is not None:
            query = query.where(pn.c.conversation_id == conversation_id)
        with self._read() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]


def _outcome(row: Row) -> str:
    if row.status == "succeeded":
        return "reversed" if row.disputed_minor else "paid"
    if row.status == "failed":
        return "declined"
    if row.status == "open":
        return "pending"
    return row.status  # expired, cancelled, refunded


# --- the contract's JSON view (`python -m bot account REF --json`), used by SqlLedger.account_json ----------


def payments_json(connection: Connection, account_id: int) -> List[Dict[str, Any]]:
    """Payment ledger entries, oldest first, with the request each came from (when it came from one)."""
    le, pr = t.ledger_entries, p.payment_requests
    rows = connection.execute(
        select(le.c.amount_minor, le.c.posted_at, le.c.reference, le.c.description, le.c.idempotency_key,
               pr.c.id.label("request_id"), pr.c.purpose, pr.c.status, pr.c.refunded_minor)
        .select_from(le.outerjoin(pr, le.c.idempotency_key == "payment:" + pr.c.id))
        .where(le.c.account_id == account_id, le.c.kind == "payment")
        .order_by(le.c.posted_at, le.c.id)).all()
    return [
        {
            "amount_cents": -row.amount_minor,
            "posted_at": _iso(row.posted_at),
            "reference": row.reference,
            "description": row.description,
            "request_id": row.request_id,
            "purpose": row.purpose,
            "status": row.status,
            "refunded_cents": row.refunded_minor or 0,
        }
        for row in rows
    ]


def plans_json(connection: Connection, account_id: int) -> List[Dict[str, Any]]:
    pl, pi = p.payment_plans, p.plan_installments
    plans = connection.execute(select(pl).where(pl.c.account_id == account_id).order_by(pl.c.created_at, pl.c.id)).all()
    result = []
    for plan in plans:
        installments = connection.execute(select(pi).where(pi.c.plan_id == plan.id).order_by(pi.c.seq)).all()
        result.append({
            "id": plan.id,
            "status": plan.status,
            "frequency": plan.frequency,
            "total_cents": plan.total_minor,
            "currency": plan.currency,
            "created_at": _iso(plan.created_at),
            "ended_at": _iso(plan.ended_at),
            "installments": [
                {"seq": i.seq, "due": i.due.isoformat(), "amount_cents": i.amount_minor, "status": i.status,
                 "attempts": i.attempts}
                for i in installments
            ],
        })
    return result


def promises_json(connection: Connection, account_id: int) -> List[Dict[str, Any]]:
    pm = p.promises
    rows = connection.execute(select(pm).where(pm.c.account_id == account_id).order_by(pm.c.created_at, pm.c.id)).all()
    return [
        {"id": r.id, "amount_cents": r.amount_minor, "currency": r.currency, "due": r.due.isoformat(),
         "status": r.status, "created_at": _iso(r.created_at), "resolved_at": _iso(r.resolved_at)}
        for r in rows
    ]
