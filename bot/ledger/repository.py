"""SqlLedger: the one door between the product and the ledger database.

Reads build domain objects (bot.domain.accounts); writes are short transactions. Append-only tables
are only ever INSERTed here. Every timestamp in and out is timezone-aware UTC.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Row

from bot.ledger.store import SqlStore
from bot.domain.accounts import (
    AccountNotFound,
    Consumer,
    ConsumerNotFound,
    Creditor,
    CreditorPolicy,
    Hold,
    LedgerEntry,
    LineItem,
    Statement,
    account_ref_key,
)
from bot.domain.communications import Communication
from bot.domain.money import Money
from bot.domain.cards import redact_card_numbers
from bot.ledger import schema as t
from bot.ledger.disputes import disputes_json, insert_handoff
from bot.ledger.payments import payments_json, plans_json, promises_json


def _communication_row(communication: Communication) -> Dict[str, Any]:
    if communication.direction not in ("in", "out"):
        raise ValueError(f"direction must be 'in' or 'out', got {communication.direction!r}")
    return dict(direction=communication.direction, channel=communication.channel, address=communication.address,
                conversation_id=communication.conversation_id, account_ref=communication.account_ref,
                kind=communication.kind, body=redact_card_numbers(communication.body), recorded_at=communication.at)


def _zip5(postal_code: str) -> str:
    digits = re.sub(r"\D", "", postal_code or "")
    return digits[:5] if len(digits) >= 5 else ""


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def _split(csv_text: str) -> Tuple[str, ...]:
    return tuple(part for part in (csv_text or "").split(",") if part)


def creditor_from_row(row: Row) -> Creditor:
    """Rebuild a Creditor (with its policy) from a creditors row."""
    minimum = row.min_installment_minor
    policy = CreditorPolicy(
        plans_allowed=bool(row.plans_allowed),
        max_installments=row.max_installments,
        min_installment=Money(minimum, row.currency) if minimum is not None else None,
        frequencies=_split(row.frequencies),
        settlement_floor_percent=row.settlement_floor_percent,
        promise_max_days=row.promise_max_days,
        extension_policy=row.extension_policy,
        min_partial_payment=row.min_partial_payment_minor,
        currency=row.currency,
        dispute_notice=row.dispute_notice,
    )
    return Creditor(
        id=row.id,
        name=row.name,
        role=row.role,
        channels=_split(row.channels),
        policy=policy,
        original_creditor=row.original_creditor,
        collector_name=row.collector_name,
    )


def _consumer_from_row(row: Row) -> Consumer:
    return Consumer(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        email=row.email,
        language=row.language,
        timezone=row.timezone,
    )


def _entry_from_row(row: Row) -> LedgerEntry:
    return LedgerEntry(
        kind=row.kind,
        amount=Money(row.amount_minor, row.currency),
        posted_at=row.posted_at,
        reference=row.reference,
        description=row.description,
    )


def _is_payment_or_credit(entry: LedgerEntry) -> bool:
    return entry.kind in ("payment", "credit") or (entry.kind == "adjustment" and entry.amount.minor < 0)


class SqlLedger(SqlStore):
    """The ledger on a SQLAlchemy engine (SQLite or PostgreSQL), migrated beforehand by bootstrap."""

    # --- consumers and verification -------------------------------------------------------------

    def consumer_by_phone(self, phone: str) -> Optional[Consumer]:
        """The consumer whose phone is on file; None when nobody or several people share it."""
        number = (phone or "").strip().split(":", 1)[-1].strip()
        query = select(t.consumers).where(t.consumers.c.phone == number).order_by(t.consumers.c.id).limit(2)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return _consumer_from_row(rows[0]) if len(rows) == 1 else None

    def consumer_by_account_ref(self, ref: str) -> Optional[Consumer]:
        """The consumer holding the account; 'bw10001' finds 'BW-10001'."""
        key = account_ref_key(ref)
        if not key:
            return None
        query = (
            select(t.consumers)
            .join(t.accounts, t.accounts.c.consumer_id == t.consumers.c.id)
            .where(t.accounts.c.ref_key == key)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return _consumer_from_row(row) if row else None

    def consumer(self, consumer_id: int) -> Consumer:
        with self.engine.connect() as connection:
            row = connection.execute(select(t.consumers).where(t.consumers.c.id == consumer_id)).first()
        if row is None:
            raise ConsumerNotFound(f"no consumer with id {consumer_id}")
        return _consumer_from_row(row)

    def identity_matches(self, consumer_id: int, date_of_birth: date, postal_code: str) -> bool:
        """Date of birth and ZIP (first 5 digits) both match what the placement says."""
        query = select(t.consumers.c.date_of_birth, t.consumers.c.postal_code).where(t.consumers.c.id == consumer_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or not _zip5(postal_code):
            return False
        return row.date_of_birth == date_of_birth and _zip5(row.postal_code) == _zip5(postal_code)

    def record_verification_attempt(
        self, consumer_id: int, succeeded: bool, channel: str, address: str, at: datetime
    ) -> None:
        values = dict(consumer_id=consumer_id, succeeded=succeeded, channel=channel, address=address, attempted_at=at)
        with self._write() as connection:
            connection.execute(insert(t.verification_attempts).values(**values))

    def verification_attempts_since(self, consumer_id: int, since: datetime) -> List[Tuple[datetime, bool]]:
        """(attempted_at, succeeded), oldest first: what the lock rule in bot.domain.verification reads."""
        va = t.verification_attempts
        query = (
            select(va.c.attempted_at, va.c.succeeded)
            .where(va.c.consumer_id == consumer_id, va.c.attempted_at >= since)
            .order_by(va.c.attempted_at, va.c.id)
        )
        with self.engine.connect() as connection:
            return [(row.attempted_at, bool(row.succeeded)) for row in connection.execute(query)]

    def verification_failures_from(self, address: str, since: datetime) -> List[datetime]:
        """Failed attempts from one address (sender) on any consumer: the per-address limit."""
        va = t.verification_attempts
        query = (select(va.c.attempted_at)
                 .where(va.c.address == address, va.c.succeeded.is_(False), va.c.attempted_at >= since))
        with self.engine.connect() as connection:
            return [row.attempted_at for row in connection.execute(query)]

    # --- accounts ---------------------------------------------------------------------------------

    def accounts_of(self, consumer_id: int) -> List[Statement]:
        """Every account of the consumer: open ones first, each group in placement order."""
        query = (
            select(t.accounts.c.account_ref)
            .where(t.accounts.c.consumer_id == consumer_id)
            .order_by(t.accounts.c.placed_at, t.accounts.c.id)
        )
        with self.engine.connect() as connection:
            refs = connection.execute(query).scalars().all()
            statements = [self._statement(connection, ref) for ref in refs]
        return sorted(statements, key=lambda s: not s.is_open)  # stable: placement order within each group

    def statement(self, account_ref: str) -> Statement:
        """The account as the consumer may see it after verification; AccountNotFound if unknown."""
        with self.engine.connect() as connection:
            return self._statement(connection, account_ref)

    def account_json(self, account_ref: str) -> Dict[str, Any]:
        """The contract's JSON view (`python -m bot account REF --json`); amounts in minor units."""
        with self.engine.connect() as connection:
            statement = self._statement(connection, account_ref)
            account = self._account_row(connection, account_ref)
            # Payments (with the request each came from), plans and promises: bot/ledger/payments.py.
            payments = payments_json(connection, account.id)
            plans = plans_json(connection, account.id)
            promises = promises_json(connection, account.id)
            disputes = disputes_json(connection, account.id)
        return {
            "account_ref": statement.account_ref,
            "creditor_id": statement.creditor.id,
            "currency": statement.currency,
            "balance_cents": statement.balance.minor,
            "status": statement.status,
            "holds": [
                {"id": h.id, "amount_cents": h.amount.minor, "reason": h.reason, "created_at": _iso(h.created_at)}
                for h in statement.holds
            ],
            "disputes": disputes,
            "plans": plans,
            "payments": payments,
            "promises": promises,
        }

    def _account_row(self, connection: Connection, account_ref: str) -> Row:
        key = account_ref_key(account_ref)
        row = connection.execute(select(t.accounts).where(t.accounts.c.ref_key == key)).first() if key else None
        if row is None:
            raise AccountNotFound(f"no account with reference {account_ref!r}")
        return row

    def _statement(self, connection: Connection, account_ref: str) -> Statement:
        account = self._account_row(connection, account_ref)
        creditor = creditor_from_row(
            connection.execute(select(t.creditors).where(t.creditors.c.id == account.creditor_id)).one()
        )
        consumer = _consumer_from_row(
            connection.execute(select(t.consumers).where(t.consumers.c.id == account.consumer_id)).one()
        )
        items = self._line_items(connection, account)
        entries = self._entries(connection, account)
        balance = Money(self._balance_minor(connection, account.id), account.currency)
        fees = sum((e.amount.minor for e in entries if e.kind in ("interest", "fee")), 0)
        return Statement(
            account_ref=account.account_ref,
            creditor=creditor,
            consumer=consumer,
            currency=account.currency,
            balance=balance,
            status="paid" if account.status == "open" and balance.minor <= 0 else account.status,
            due_since=min((item.date for item in items), default=None),
            line_items=items,
            payments_and_credits=tuple(e for e in entries if _is_payment_or_credit(e)),
            interest_and_fees=Money(fees, account.currency),
            holds=self._active_holds(connection, account),
            placed_at=account.placed_at,
            flags=tuple(json.loads(account.flags or "[]")),
        )

    @staticmethod
    def _balance_minor(connection: Connection, account_id: int) -> int:
        """The balance is the sum of the ledger entries; it is never stored."""
        query = select(func.coalesce(func.sum(t.ledger_entries.c.amount_minor), 0)).where(
            t.ledger_entries.c.account_id == account_id
        )
        return int(connection.execute(query).scalar_one())

    @staticmethod
    def _line_items(connection: Connection, account: Row) -> Tuple[LineItem, ...]:
        li = t.line_items
        rows = connection.execute(select(li).where(li.c.account_id == account.id).order_by(li.c.item_date, li.c.id))
        return tuple(
            LineItem(date=r.item_date, reference=r.reference, description=r.description,
                     amount=Money(r.amount_minor, account.currency))
            for r in rows
        )

    @staticmethod
    def _entries(connection: Connection, account: Row) -> Tuple[LedgerEntry, ...]:
        le = t.ledger_entries
        rows = connection.execute(select(le).where(le.c.account_id == account.id).order_by(le.c.posted_at, le.c.id))
        return tuple(_entry_from_row(r) for r in rows)

    @staticmethod
    def _active_holds(connection: Connection, account: Row) -> Tuple[Hold, ...]:
        h = t.holds
        query = (
            select(h)
            .where(h.c.account_id == account.id, h.c.released_at.is_(None))
            .order_by(h.c.created_at, h.c.id)
        )
        return tuple(
            Hold(id=r.id, amount=Money(r.amount_minor, account.currency), reason=r.reason,
                 created_at=r.created_at, released_at=r.released_at)
            for r in connection.execute(query)
        )

    # --- consent, handoffs, communications ------------------------------------------------------

    def record_consent(self, channel: str, address: str, granted: bool, source: str, at: datetime) -> None:
        """Append a consent change; the latest row per (channel, address) is the one in force."""
        values = dict(channel=channel, address=address.strip(), granted=granted, source=source, recorded_at=at)
        with self._write() as connection:
            connection.execute(insert(t.consents).values(**values))

    def consent(self, channel: str, address: str) -> Optional[bool]:
        """True (opted in), False (opted out) or None (never recorded) for the channel address."""
        c = t.consents
        query = (
            select(c.c.granted)
            .where(c.c.channel == channel, c.c.address == address.strip())
            .order_by(c.c.recorded_at.desc(), c.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            granted = connection.execute(query).scalar()
        return None if granted is None else bool(granted)

    def open_handoff(
        self,
        conversation_id: str,
        channel: str,
        account_ref: Optional[str],
        reason: str,
        transcript: List[Dict[str, Any]],
        at: datetime,
        priority: int = 0,
    ) -> int:
        """Queue the conversation for an agent; returns the handoff id. Card numbers are redacted."""
        with self._write() as connection:
            return insert_handoff(connection, conversation_id=conversation_id, channel=channel,
                                  account_ref=account_ref, reason=reason, transcript=transcript, at=at,
                                  priority=priority)

    def log_communications(self, communications: Sequence[Communication]) -> None:
        """Append messages in or out to the record (kept 3 years) in one transaction, in order; card numbers are redacted."""
        rows = [_communication_row(communication) for communication in communications]
        if rows:
            with self._write() as connection:
                connection.execute(insert(t.communications), rows)

    def communications(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The record of one conversation, oldest first."""
        c = t.communications
        query = select(c).where(c.c.conversation_id == conversation_id).order_by(c.c.recorded_at, c.c.id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            {
                "direction": r.direction,
                "channel": r.channel,
                "address": r.address,
                "account_ref": r.account_ref,
                "kind": r.kind,
                "body": r.body,
                "recorded_at": _iso(r.recorded_at),
            }
            for r in rows
        ]

    def handoffs(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        """The agent queue, highest priority then oldest first; timestamps as ISO-8601 strings."""
        h = t.handoffs
        query = select(h).order_by(h.c.priority.desc(), h.c.created_at, h.c.id)
        if status is not None:
            query = query.where(h.c.status == status)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_handoff_json(r) for r in rows]

    def handoff(self, handoff_id: int) -> Optional[Dict[str, Any]]:
        """One handoff as `handoffs()` shows it; None when there is no such handoff."""
        with self.engine.connect() as connection:
            row = connection.execute(select(t.handoffs).where(t.handoffs.c.id == handoff_id)).first()
        return _handoff_json(row) if row else None


def _handoff_json(r: Row) -> Dict[str, Any]:
    return {
        "id": r.id,
        "conversation_id": r.conversation_id,
        "channel": r.channel,
        "account_ref": r.account_ref,
        "reason": r.reason,
        "status": r.status,
        "priority": r.priority,
        "transcript": json.loads(r.transcript),
        "created_at": _iso(r.created_at),
        "resolved_at": _iso(r.resolved_at),
        "dispute_id": r.dispute_id,
        "assigned_agent": r.assigned_agent,
        "assigned_at": _iso(r.assigned_at),
        "outcome": r.outcome,
        "resolution_note": r.resolution_note,
    }
