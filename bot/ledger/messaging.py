"""SqlMessaging: the messaging tables (bot/ledger/schema_messaging.py) on the ledger's engine.

Kept apart from SqlLedger: accounts and money there, message plumbing here. Every timestamp in and
out is timezone-aware UTC; inbound_messages and outbound_attempts are only ever INSERTed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.ledger.store import SqlStore
from bot.domain.cards import redact_card_numbers
from bot.ledger.schema_messaging import (
    OUTBOUND_STATUSES,
    inbound_messages,
    one_time_codes,
    outbound_attempts,
    pending_choices,
)


@dataclass(frozen=True)
class OutboundRecord:
    """One logged attempt to send a message outside a live conversation."""

    purpose: str
    proactive: bool
    channel: str
    address: str
    response: str
    status: str
    reason: str
    body: str
    attempted_at: datetime
    consumer_id: Optional[int] = None
    account_ref: Optional[str] = None
    message_key: Optional[str] = None
    not_before: Optional[datetime] = None
    provider_id: Optional[str] = None
    id: Optional[int] = None


@dataclass(frozen=True)
class StoredCode:
    id: int
    conversation_id: str
    consumer_id: Optional[int]
    account_ref: Optional[str]
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    used_at: Optional[datetime]


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value else None


class SqlMessaging(SqlStore):
    """Message ids, outbound attempts, pending choices and one-time codes (SQLite or PostgreSQL)."""

    # --- inbound ------------------------------------------------------------------------------

    def claim_inbound(self, channel: str, message_sid: str, address: str, at: datetime) -> bool:
        """Record a provider message id; False when it was seen before (a retry: do not process it).

        The unique (channel, message_sid) constraint decides, so two retries arriving at the same
        moment in two processes still yield exactly one True.
        """
        values = dict(channel=channel, message_sid=message_sid, address=address, received_at=at)
        try:
            with self._write() as connection:
                connection.execute(insert(inbound_messages).values(**values))
        except IntegrityError:
            return False
        return True

    def last_inbound(self, channel: str, address: str) -> Optional[datetime]:
        """When the address last wrote to us on the channel (WhatsApp's 24-hour window opens then)."""
        im = inbound_messages
        query = select(func.max(im.c.received_at)).where(im.c.channel == channel, im.c.address == address)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()  # max() keeps UtcDateTime: aware UTC or None

    def last_phone_channel(self, phone: str) -> Optional[str]:
        """The channel ("sms" or "whatsapp") this phone number last wrote to us on, if any."""
        im = inbound_messages
        query = (
            select(im.c.channel)
            .where(or_(and_(im.c.channel == "sms", im.c.address == phone),
                       and_(im.c.channel == "whatsapp", im.c.address == f"whatsapp:{phone}")))
            .order_by(im.c.received_at.desc(), im.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    # --- numbered choices ---------------------------------------------------------------------

    def offer_choices(self, channel: str, address: str, choices: Sequence[Dict[str, str]], at: datetime) -> None:
        """Remember the choices just offered (replacing older ones); an empty list forgets them."""
        pc = pending_choices
        with self._write() as connection:
            connection.execute(delete(pc).where(pc.c.channel == channel, pc.c.address == address))
            if choices:
                connection.execute(insert(pc).values(
                    channel=channel, address=address, offered_at=at,
                    choices=json.dumps([{"title": c["title"], "payload": c["payload"]} for c in choices],
                                       ensure_ascii=False),
                ))

    def choices(self, channel: str, address: str, since: Optional[datetime] = None) -> List[Dict[str, str]]:
        """The choices last offered to the address (only if offered at or after `since`)."""
        pc = pending_choices
        query = select(pc.c.choices).where(pc.c.channel == channel, pc.c.address == address)
        if since is not None:
            query = query.where(pc.c.offered_at >= since)
        with self.engine.connect() as connection:
            raw = connection.execute(query).scalar()
        return json.loads(raw) if raw else []

    # --- outbound attempts --------------------------------------------------------------------

    def log_attempt(self, record: OutboundRecord) -> int:
        """Append one attempt to the record; card numbers in the body are redacted."""
        if record.status not in OUTBOUND_STATUSES:
            raise ValueError(f"status must be one of {OUTBOUND_STATUSES}, got {record.status!r}")
        values = dict(
            message_key=record.message_key, purpose=record.purpose, proactive=record.proactive,
            channel=record.channel, address=record.address, consumer_id=record.consumer_id,
            account_ref=record.account_ref, response=record.response, status=record.status,
            reason=record.reason, not_before=record.not_before, provider_id=record.provider_id,
            body=redact_card_numbers(record.body), attempted_at=record.attempted_at,
        )
        with self._write() as connection:
            return int(connection.execute(insert(outbound_attempts).values(**values)).inserted_primary_key[0])

    def attempts(
        self,
        consumer_id: Optional[int] = None,
        address: Optional[str] = None,
        account_ref: Optional[str] = None,
        limit: int = 200,
    ) -> List[OutboundRecord]:
        """Logged attempts, oldest first, filtered by consumer, address or account."""
        oa = outbound_attempts
        query = select(oa)
        if consumer_id is not None:
            query = query.where(oa.c.consumer_id == consumer_id)
        if address is not None:
            query = query.where(oa.c.address == address)
        if account_ref is not None:
            query = query.where(oa.c.account_ref == account_ref)
        query = query.order_by(oa.c.attempted_at.desc(), oa.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_record(row) for row in reversed(rows)]

    def sent_proactive_since(self, consumer_id: int, since: datetime,
                             purposes: Optional[Sequence[str]] = None) -> List[datetime]:
        """When proactive messages (of `purposes`, if given) went out to the consumer after `since`,
        oldest first: what the weekly cap counts (one sent exactly 7 days ago no longer counts, which
        is the moment a capped message's `not_before` names)."""
        oa = outbound_attempts
        query = (
            select(oa.c.attempted_at)
            .where(oa.c.consumer_id == consumer_id, oa.c.proactive.is_(True), oa.c.status == "sent",
                   oa.c.attempted_at > since)
            .order_by(oa.c.attempted_at)
        )
        if purposes is not None:
            query = query.where(oa.c.purpose.in_(list(purposes)))
        with self.engine.connect() as connection:
            return [row.attempted_at for row in connection.execute(query)]

    def delayed_due(self, now: datetime, purposes: Sequence[str]) -> List[OutboundRecord]:
        """Delayed (or failed, retryable) attempts whose time has come and that nothing was tried after
        (same message key), oldest first: the queue of messages to send again."""
        oa = outbound_attempts
        later = oa.alias("later")
        newer = select(later.c.id).where(later.c.message_key == oa.c.message_key, later.c.id > oa.c.id)
        query = (
            select(oa)
            .where(oa.c.status.in_(("delayed", "failed")), oa.c.not_before <= now, oa.c.message_key.is_not(None),
                   oa.c.purpose.in_(list(purposes)), ~newer.exists())
            .order_by(oa.c.not_before, oa.c.id)
        )
        with self.engine.connect() as connection:
            return [_record(row) for row in connection.execute(query)]

    def failures(self, message_key: str) -> int:
        oa = outbound_attempts
        query = select(func.count()).select_from(oa).where(oa.c.message_key == message_key, oa.c.status == "failed")
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def was_sent(self, message_key: str) -> bool:
        oa = outbound_attempts
        query = select(oa.c.id).where(oa.c.message_key == message_key, oa.c.status == "sent").limit(1)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    # --- one-time codes -----------------------------------------------------------------------

    def store_code(
        self,
        conversation_id: str,
        consumer_id: Optional[int],
        account_ref: Optional[str],
        code_hash: str,
        at: datetime,
        expires_at: datetime,
    ) -> int:
        values = dict(conversation_id=conversation_id, consumer_id=consumer_id, account_ref=account_ref,
                      code_hash=code_hash, created_at=at, expires_at=expires_at, attempts=0)
        with self._write() as connection:
            return int(connection.execute(insert(one_time_codes).values(**values)).inserted_primary_key[0])

    def code_requests_since(self, since: datetime, conversation_id: Optional[str] = None,
                            consumer_id: Optional[int] = None) -> int:
        """How many codes were made since `since` for the conversation or the consumer (rate limits)."""
        otc = one_time_codes
        query = select(func.count()).select_from(otc).where(otc.c.created_at >= since)
        if conversation_id is not None:
            query = query.where(otc.c.conversation_id == conversation_id)
        if consumer_id is not None:
            query = query.where(otc.c.consumer_id == consumer_id)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def latest_code(self, conversation_id: str) -> Optional[StoredCode]:
        otc = one_time_codes
        query = (
            select(otc).where(otc.c.conversation_id == conversation_id)
            .order_by(otc.c.created_at.desc(), otc.c.id.desc()).limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return StoredCode(row.id, row.conversation_id, row.consumer_id, row.account_ref, row.code_hash,
                          row.created_at, row.expires_at, row.attempts, row.used_at)

    def count_code_attempt(self, code_id: int) -> int:
        """Add one guess to the code and return the guesses made so far (atomic in the database)."""
        otc = one_time_codes
        with self._write() as connection:
            connection.execute(update(otc).where(otc.c.id == code_id).values(attempts=otc.c.attempts + 1))
            return int(connection.execute(select(otc.c.attempts).where(otc.c.id == code_id)).scalar_one())

    def use_code(self, code_id: int, at: datetime) -> bool:
        """Mark the code used; False if it already was (a code opens one conversation once)."""
        otc = one_time_codes
        with self._write() as connection:
            result = connection.execute(
                update(otc).where(otc.c.id == code_id, otc.c.used_at.is_(None)).values(used_at=at)
            )
            return result.rowcount == 1


def _record(row: Any) -> OutboundRecord:
    return OutboundRecord(
        id=row.id, message_key=row.message_key, purpose=row.purpose, proactive=bool(row.proactive),
        channel=row.channel, address=row.address, consumer_id=row.consumer_id, account_ref=row.account_ref,
        response=row.response, status=row.status, reason=row.reason, not_before=row.not_before,
        provider_id=row.provider_id, body=row.body, attempted_at=row.attempted_at,
    )


def record_as_json(record: OutboundRecord) -> Dict[str, Any]:
    """The attempt as JSON for operators (`python -m bot outbound-log`)."""
    return {
        "id": record.id, "attempted_at": _iso(record.attempted_at), "purpose": record.purpose,
        "proactive": record.proactive, "channel": record.channel, "address": record.address,
        "account_ref": record.account_ref, "response": record.response, "status": record.status,
        "reason": record.reason, "not_before": _iso(record.not_before), "provider_id": record.provider_id,
        "message_key": record.message_key, "body": record.body,
    }


__all__: Tuple[str, ...] = ("SqlMessaging", "OutboundRecord", "StoredCode", "record_as_json")
