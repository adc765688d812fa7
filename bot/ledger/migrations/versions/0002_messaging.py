"""Messaging: inbound message ids (Twilio retries), outbound attempts, pending choices, one-time codes.

bot/ledger/schema_messaging.py describes these tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("inbound_messages", "outbound_attempts")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("message_sid", sa.String(64), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        _ts("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_messages"),
        sa.UniqueConstraint("channel", "message_sid", name="uq_inbound_messages_channel_message_sid"),
    )
    op.create_index("ix_inbound_messages_channel_address", "inbound_messages", ["channel", "address", "received_at"])
    op.create_table(
        "outbound_attempts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("message_key", sa.String(200)),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("proactive", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("consumer_id", sa.Integer),
        sa.Column("account_ref", sa.String(64)),
        sa.Column("response", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        _ts("not_before", nullable=True),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
        _ts("attempted_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_attempts"),
        sa.ForeignKeyConstraint(["consumer_id"], ["consumers.id"], name="fk_outbound_attempts_consumer_id_consumers"),
        sa.CheckConstraint("status IN ('sent', 'delayed', 'suppressed', 'failed')", name="ck_outbound_attempts_status"),
    )
    op.create_index("ix_outbound_attempts_consumer", "outbound_attempts", ["consumer_id", "attempted_at"])
    op.create_index("ix_outbound_attempts_message_key", "outbound_attempts", ["message_key"])
    op.create_index("ix_outbound_attempts_address", "outbound_attempts", ["channel", "address", "attempted_at"])
    op.create_table(
        "pending_choices",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("choices", sa.Text, nullable=False),
        _ts("offered_at"),
        sa.PrimaryKeyConstraint("id", name="pk_pending_choices"),
        sa.UniqueConstraint("channel", "address", name="uq_pending_choices_channel_address"),
    )
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("consumer_id", sa.Integer),
        sa.Column("account_ref", sa.String(64)),
        sa.Column("code_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_one_time_codes"),
        sa.ForeignKeyConstraint(["consumer_id"], ["consumers.id"], name="fk_one_time_codes_consumer_id_consumers"),
    )
    op.create_index("ix_one_time_codes_conversation", "one_time_codes", ["conversation_id", "created_at"])
    op.create_index("ix_one_time_codes_consumer", "one_time_codes", ["consumer_id", "created_at"])
    _forbid_changes()


def _forbid_changes() -> None:
    """The message records are append-only like 0001's (Reg F 1006.100): the database refuses changes."""
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:  # ledger_append_only() comes from migration 0001
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    for table in ("one_time_codes", "pending_choices", "outbound_attempts", "inbound_messages"):
        op.drop_table(table)
