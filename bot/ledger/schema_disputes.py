"""Disputes, account flags and payment claims (migration 0004), on the ledger's metadata.

A dispute is a written dispute (Reg F 1006.38): the consumer's words, the reason and the disputed
amount are recorded once and never change (the database refuses UPDATE of those columns and any
DELETE); only its outcome (status, resolution, agent) is written later. Account flags (bankruptcy,
attorney, deceased, cease communication) and payment claims ("I already paid") are append-only.
`accounts.flags` keeps the flags in force, written in the same transaction as the flag row, so every
reader of a Statement sees them.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from bot.domain.disputes import ACCOUNT_FLAGS, DISPUTE_REASONS, DISPUTE_STATUSES
from bot.ledger.schema import UtcDateTime, metadata

APPEND_ONLY_TABLES = ("account_flags", "payment_claims")
# Columns of a dispute that record what the consumer said: written once, never updated.
DISPUTE_FACTS = ("account_id", "conversation_id", "channel", "reason", "consumer_words", "amount_minor",
                 "currency", "opened_at", "turn_key")


def _check(column: str, values: tuple, name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)


disputes = Table(
    "disputes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("conversation_id", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("consumer_words", Text, nullable=False),  # card numbers redacted
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolution_note", Text),
    Column("agent", String(200)),
    Column("hold_id", Integer, ForeignKey("holds.id")),
    Column("handoff_id", Integer, ForeignKey("handoffs.id")),
    # One dispute per conversation turn: a retried action finds the dispute it already opened.
    Column("turn_key", String(300), nullable=False, unique=True),
    _check("reason", DISPUTE_REASONS, "reason"),
    _check("status", DISPUTE_STATUSES, "status"),
)

account_flags = Table(
    "account_flags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("flag", String(30), nullable=False),
    Column("active", Boolean, nullable=False),  # True: set; False: cleared (the latest row is in force)
    Column("source", Text, nullable=False),  # e.g. "conversation:<id>" or "agent:<name>"
    Column("words", Text),  # what the consumer said, card numbers redacted
    Column("recorded_at", UtcDateTime, nullable=False),
    _check("flag", ACCOUNT_FLAGS, "flag"),
    Index("ix_account_flags_account", "account_id", "recorded_at"),
)

payment_claims = Table(
    "payment_claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("conversation_id", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("paid_on", Date),
    Column("amount_minor", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("method", Text),
    Column("consumer_words", Text, nullable=False),
    Column("handoff_id", Integer, ForeignKey("handoffs.id")),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("turn_key", String(300), nullable=False, unique=True),
)
