"""Messaging tables (migration 0002), on the ledger's metadata so migrations and tests see them.

* inbound_messages: every Twilio message id seen, unique per channel, so a retried webhook is
  processed once; its latest row per address is also when the consumer last wrote (WhatsApp's
  24-hour session window). Append-only.
* outbound_attempts: every proactive or out-of-conversation message the outbound service tried,
  with why it was sent, delayed or suppressed (Reg F 1006.100 record). Append-only.
* pending_choices: the numbered choices last offered to an SMS/WhatsApp address, so "2" means
  the second button. Replaced on every reply.
* one_time_codes: web chat possession codes, stored as keyed hashes, with expiry and attempts.
"""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bot.ledger.schema import UtcDateTime, metadata

OUTBOUND_STATUSES = ("sent", "delayed", "suppressed", "failed")
MESSAGING_APPEND_ONLY_TABLES = ("inbound_messages", "outbound_attempts")

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("message_sid", String(64), nullable=False),
    Column("address", String(254), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("channel", "message_sid", name="uq_inbound_messages_channel_message_sid"),
    Index("ix_inbound_messages_channel_address", "channel", "address", "received_at"),
)

outbound_attempts = Table(
    "outbound_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_key", String(200)),  # the same message is sent once (e.g. reminder:BW-10001:2026-11-24)
    Column("purpose", String(40), nullable=False),  # why: payment_reminder, one_time_code, agent_reply, ...
    Column("proactive", Boolean, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("address", String(254), nullable=False),
    Column("consumer_id", Integer, ForeignKey("consumers.id")),
    Column("account_ref", String(64)),
    Column("response", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(60), nullable=False),
    Column("not_before", UtcDateTime),  # delayed: the earliest moment it may go out
    Column("provider_id", String(64)),  # Twilio's message SID when sent
    Column("body", Text, nullable=False),  # what was (or would have been) sent; codes masked
    Column("attempted_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('sent', 'delayed', 'suppressed', 'failed')", name="status"),
    Index("ix_outbound_attempts_consumer", "consumer_id", "attempted_at"),
    Index("ix_outbound_attempts_message_key", "message_key"),
    Index("ix_outbound_attempts_address", "channel", "address", "attempted_at"),
)

pending_choices = Table(
    "pending_choices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("address", String(254), nullable=False),
    Column("choices", Text, nullable=False),  # JSON list of {"title", "payload"}
    Column("offered_at", UtcDateTime, nullable=False),
    UniqueConstraint("channel", "address", name="uq_pending_choices_channel_address"),
)

one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", String(200), nullable=False),
    Column("consumer_id", Integer, ForeignKey("consumers.id")),  # None: the reference matched nobody
    Column("account_ref", String(64)),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", UtcDateTime),
    Index("ix_one_time_codes_conversation", "conversation_id", "created_at"),
    Index("ix_one_time_codes_consumer", "consumer_id", "created_at"),
)
