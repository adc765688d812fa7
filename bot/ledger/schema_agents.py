"""Agent tables (migration 0005), on the ledger's metadata so migrations and tests see them.

* agents: the people who work the handoff queue; passwords only as scrypt hashes (bot.security).
* agent_messages: what an agent wrote to a consumer, and when it reached the consumer's channel.
  The message itself is also in the communications record once Rasa has delivered it.
"""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from bot.ledger.schema import UtcDateTime, metadata

agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

agent_messages = Table(
    "agent_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handoff_id", Integer, ForeignKey("handoffs.id"), nullable=False, index=True),
    Column("agent_username", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("delivery_error", Text),
)
