"""SqlDisputes: disputes, account flags and payment claims (schema_disputes) on the ledger's engine.

Each write is one transaction: a dispute, its hold and its handoff are written together or not at
all; a flag and the handoff that reports it likewise. Exactly-once rests on the database: a dispute
and a claim are unique per conversation turn (`turn_key`), and an upheld dispute's credit is one
ledger entry keyed `dispute:<id>:upheld`.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from bot.domain.accounts import AccountNotFound, LedgerEntry, account_ref_key
from bot.domain.cards import redact_card_numbers
from bot.domain.disputes import Dispute, PaymentClaim, disputed_amount, upheld_adjustment
from bot.domain.money import Money
from bot.ledger import schema as t
from bot.ledger import schema_disputes as d
from bot.ledger.store import SqlStore

# A claimed payment matches a ledger payment of the same amount posted this many days either side.
CLAIM_MATCH_DAYS = 7


def _iso(value: Any) -> Optional[str]:
    return value.isoformat() if value else None


def insert_handoff(connection: Connection, *, conversation_id: str, channel: str, account_ref: Optional[str],
                   reason: str, transcript: Sequence[Dict[str, Any]], at: datetime, priority: int = 0,
                   dispute_id: Optional[int] = None) -> int:
    """Queue a conversation for an agent inside the caller's transaction; card numbers are redacted."""
    values = dict(
        conversation_id=conversation_id, channel=channel, account_ref=account_ref, reason=reason, status="open",
        priority=priority, created_at=at, dispute_id=dispute_id,
        transcript=json.dumps(_redact(list(transcript)), ensure_ascii=False, default=str),
    )
    return int(connection.execute(insert(t.handoffs).values(**values)).inserted_primary_key[0])


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    return value


def _account(connection: Connection, account_ref: str, lock: bool = False) -> Row:
    key = account_ref_key(account_ref)
    query = select(t.accounts).where(t.accounts.c.ref_key == key)
    row = connection.execute(query.with_for_update() if lock else query).first() if key else None
    if row is None:
        raise AccountNotFound(f"no account with reference {account_ref!r}")
    return row


def _balance(connection: Connection, account: Row) -> Money:
    query = select(func.coalesce(func.sum(t.ledger_entries.c.amount_minor), 0)).where(
        t.ledger_entries.c.account_id == account.id)
    return Money(int(connection.execute(query).scalar_one()), account.currency)


def _dispute(row: Row, account_ref: str) -> Dispute:
    return Dispute(
        id=row.id, account_ref=account_ref, conversation_id=row.conversation_id, channel=row.channel,
        reason=row.reason, consumer_words=row.consumer_words, amount=Money(row.amount_minor, row.currency),
        status=row.status, opened_at=row.opened_at, resolved_at=row.resolved_at,
        resolution_note=row.resolution_note, agent=row.agent, hold_id=row.hold_id, handoff_id=row.handoff_id,
    )


def _claim(row: Row, account_ref: str) -> PaymentClaim:
    amount = Money(row.amount_minor, row.currency) if row.amount_minor is not None else None
    return PaymentClaim(
        id=row.id, account_ref=account_ref, paid_on=row.paid_on, amount=amount, method=row.method,
        consumer_words=row.consumer_words, handoff_id=row.handoff_id, recorded_at=row.recorded_at,
    )


def _dispute_query():
    return select(d.disputes, t.accounts.c.account_ref).join(t.accounts, t.accounts.c.id == d.disputes.c.account_id)


def disputes_json(connection: Connection, account_id: int) -> List[Dict[str, Any]]:
    """Every dispute of the account, oldest first (the `disputes` of `python -m bot account REF --json`)."""
    ds = d.disputes
    rows = connection.execute(select(ds).where(ds.c.account_id == account_id).order_by(ds.c.opened_at, ds.c.id))
    return [
        {
            "id": r.id, "reason": r.reason, "status": r.status, "amount_cents": r.amount_minor,
            "currency": r.currency, "consumer_words": r.consumer_words, "conversation_id": r.conversation_id,
            "channel": r.channel, "opened_at": _iso(r.opened_at), "resolved_at": _iso(r.resolved_at),
            "resolution_note": r.resolution_note, "agent": r.agent, "hold_id": r.hold_id,
            "handoff_id": r.handoff_id,
        }
        for r in rows
    ]


class SqlDisputes(SqlStore):
    """Disputes, flags and claims; migrated beforehand by bootstrap."""

    # --- disputes -----------------------------------------------------------------------------------

    def open_dispute(self, account_ref: str, *, conversation_id: str, channel: str, reason: str, words: str,
                     amount: Optional[Money], turn_key: str, transcript: Sequence[Dict[str, Any]], at: datetime,
                     priority: int, handoff_reason: str) -> Tuple[Dispute, bool]:
        """Dispute + hold + handoff in one transaction; (dispute, created). The same turn_key returns the
        dispute already opened and writes nothing."""
        with self._write() as connection:
            account = _account(connection, account_ref, lock=True)
            existing = connection.execute(_dispute_query().where(d.disputes.c.turn_key == turn_key)).first()
            if existing is not None:
                return _dispute(existing, existing.account_ref), False
            held = disputed_amount(_balance(connection, account), amount)
            hold_id = int(connection.execute(insert(t.holds).values(
                account_id=account.id, amount_minor=held.minor, reason=f"dispute: {reason}", created_at=at,
            )).inserted_primary_key[0])
            handoff_id = insert_handoff(
                connection, conversation_id=conversation_id, channel=channel, account_ref=account.account_ref,
                reason=handoff_reason, transcript=transcript, at=at, priority=priority)
            dispute_id = int(connection.execute(insert(d.disputes).values(
                account_id=account.id, conversation_id=conversation_id, channel=channel, reason=reason,
                consumer_words=redact_card_numbers(words or ""), amount_minor=held.minor, currency=held.currency,
                status="open", opened_at=at, hold_id=hold_id, handoff_id=handoff_id, turn_key=turn_key,
            )).inserted_primary_key[0])
            connection.execute(update(t.handoffs).where(t.handoffs.c.id == handoff_id).values(dispute_id=dispute_id))
            row = connection.execute(_dispute_query().where(d.disputes.c.id == dispute_id)).one()
            return _dispute(row, row.account_ref), True

    def disputes_of(self, account_ref: str) -> List[Dispute]:
        """The account's disputes, newest first."""
        with self.engine.connect() as connection:
            account = _account(connection, account_ref)
            rows = connection.execute(_dispute_query().where(d.disputes.c.account_id == account.id)
                                      .order_by(d.disputes.c.opened_at.desc(), d.disputes.c.id.desc())).all()
        return [_dispute(r, r.account_ref) for r in rows]

    def dispute(self, dispute_id: int) -> Dispute:
        with self.engine.connect() as connection:
            row = connection.execute(_dispute_query().where(d.disputes.c.id == dispute_id)).first()
        if row is None:
            raise LookupError(f"no dispute with id {dispute_id}")
        return _dispute(row, row.account_ref)

    def resolve(self, dispute_id: int, status: str, agent: str, note: str,
                at: datetime) -> Tuple[Dispute, Optional[Money], bool]:
        """Close an open dispute as upheld, verified or withdrawn: (dispute, credit posted, changed).

        The hold is released; an upheld dispute credits the disputed amount (never more than is owed)
        with one adjustment entry. A dispute already closed changes nothing."""
        if status not in ("upheld", "verified", "withdrawn"):
            raise ValueError(f"status must be upheld, verified or withdrawn, got {status!r}")
        ds = d.disputes
        with self._write() as connection:
            row = connection.execute(_dispute_query().where(ds.c.id == dispute_id).with_for_update(of=ds)).first()
            if row is None:
                raise LookupError(f"no dispute with id {dispute_id}")
            if row.status != "open":
                return _dispute(row, row.account_ref), None, False
            credit = None
            if status == "upheld":
                credit = self._credit(connection, row, at)
            if row.hold_id is not None:
                connection.execute(update(t.holds).where(t.holds.c.id == row.hold_id, t.holds.c.released_at.is_(None))
                                   .values(released_at=at))
            connection.execute(update(ds).where(ds.c.id == dispute_id).values(
                status=status, resolved_at=at, agent=agent, resolution_note=note))
            row = connection.execute(_dispute_query().where(ds.c.id == dispute_id)).one()
            return _dispute(row, row.account_ref), credit, True

    @staticmethod
    def _credit(connection: Connection, row: Row, at: datetime) -> Optional[Money]:
        account = connection.execute(select(t.accounts).where(t.accounts.c.id == row.account_id)).one()
        credit = upheld_adjustment(Money(row.amount_minor, row.currency), _balance(connection, account))
        if credit.is_zero():
            return None
        connection.execute(insert(t.ledger_entries).values(
            account_id=row.account_id, kind="adjustment", amount_minor=-credit.minor, currency=credit.currency,
            posted_at=at, reference=f"dispute-{row.id}", description=f"Dispute upheld ({row.reason})",
            idempotency_key=f"dispute:{row.id}:upheld",
        ))
        return credit

    # --- account flags ------------------------------------------------------------------------------

    def set_flag(self, account_ref: str, flag: str, *, active: bool, source: str, words: str, at: datetime,
                 handoff: Optional[Dict[str, Any]] = None) -> Tuple[bool, Optional[int]]:
        """Set (or clear) a flag, append-only, and keep accounts.flags in step; with `handoff` (the keyword
        arguments of insert_handoff but `account_ref` and `at`) queue it for an agent in the same
        transaction. Returns (changed, handoff id); a flag already in that state changes nothing."""
        with self._write() as connection:
            account = _account(connection, account_ref, lock=True)
            flags = list(json.loads(account.flags or "[]"))
            if (flag in flags) == active:
                return False, None
            connection.execute(insert(d.account_flags).values(
                account_id=account.id, flag=flag, active=active, source=source,
                words=redact_card_numbers(words or ""), recorded_at=at))
            flags = flags + [flag] if active else [f for f in flags if f != flag]
            connection.execute(update(t.accounts).where(t.accounts.c.id == account.id)
                               .values(flags=json.dumps(flags)))
            handoff_id = None
            if handoff is not None:
                handoff_id = insert_handoff(connection, account_ref=account.account_ref, at=at, **handoff)
            return True, handoff_id

    def flags_in_force(self, account_ref: str) -> Tuple[str, ...]:
        with self.engine.connect() as connection:
            return tuple(json.loads(_account(connection, account_ref).flags or "[]"))

    def flag_history(self, account_ref: str) -> List[Dict[str, Any]]:
        """Every flag change of the account, oldest first."""
        af = d.account_flags
        with self.engine.connect() as connection:
            account = _account(connection, account_ref)
            rows = connection.execute(select(af).where(af.c.account_id == account.id)
                                      .order_by(af.c.recorded_at, af.c.id)).all()
        return [{"flag": r.flag, "active": bool(r.active), "source": r.source, "words": r.words,
                 "recorded_at": _iso(r.recorded_at)} for r in rows]

    # --- "I already paid" ---------------------------------------------------------------------------

    def find_payment(self, account_ref: str, amount: Optional[Money], paid_on: Optional[date]) -> Optional[LedgerEntry]:
        """A posted payment or credit that matches what the consumer says (amount, and date within a week)."""
        le = t.ledger_entries
        with self.engine.connect() as connection:
            account = _account(connection, account_ref)
            query = select(le).where(le.c.account_id == account.id, le.c.amount_minor < 0,
                                     le.c.kind.in_(("payment", "credit", "adjustment")))
            if amount is not None:
                query = query.where(le.c.amount_minor == -amount.minor)
            rows = connection.execute(query.order_by(le.c.posted_at.desc(), le.c.id.desc())).all()
        for row in rows:
            if paid_on is None or abs((row.posted_at.date() - paid_on).days) <= CLAIM_MATCH_DAYS:
                return LedgerEntry(kind=row.kind, amount=Money(row.amount_minor, row.currency),
                                   posted_at=row.posted_at, reference=row.reference, description=row.description)
        return None

    def record_payment_claim(self, account_ref: str, *, conversation_id: str, channel: str,
                             paid_on: Optional[date], amount: Optional[Money], method: Optional[str], words: str,
                             turn_key: str, transcript: Sequence[Dict[str, Any]], at: datetime, priority: int,
                             handoff_reason: str, handoff_id: Optional[int] = None) -> Tuple[PaymentClaim, bool]:
        """The claim and its handoff to payment operations in one transaction (`handoff_id`: one already
        queued for it); (claim, created)."""
        pc = d.payment_claims
        with self._write() as connection:
            account = _account(connection, account_ref, lock=True)
            existing = connection.execute(select(pc).where(pc.c.turn_key == turn_key)).first()
            if existing is not None:
                return _claim(existing, account.account_ref), False
            if handoff_id is None:
                handoff_id = insert_handoff(
                    connection, conversation_id=conversation_id, channel=channel, account_ref=account.account_ref,
                    reason=handoff_reason, transcript=transcript, at=at, priority=priority)
            claim_id = connection.execute(insert(pc).values(
                account_id=account.id, conversation_id=conversation_id, channel=channel, paid_on=paid_on,
                amount_minor=amount.minor if amount is not None else None, currency=account.currency,
                method=redact_card_numbers(method) if method else None, consumer_words=redact_card_numbers(words or ""),
                handoff_id=handoff_id, recorded_at=at, turn_key=turn_key,
            )).inserted_primary_key[0]
            row = connection.execute(select(pc).where(pc.c.id == claim_id)).one()
            return _claim(row, account.account_ref), True

    def payment_claims(self, account_ref: str) -> List[PaymentClaim]:
        pc = d.payment_claims
        with self.engine.connect() as connection:
            account = _account(connection, account_ref)
            rows = connection.execute(select(pc).where(pc.c.account_id == account.id)
                                      .order_by(pc.c.recorded_at, pc.c.id)).all()
        return [_claim(r, account.account_ref) for r in rows]

