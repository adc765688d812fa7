"""Disputes, account flags, payment claims; handoffs.dispute_id; creditors.dispute_notice
(bot/ledger/schema_disputes.py describes them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("account_flags", "payment_claims")
DISPUTE_FACTS = ("account_id", "conversation_id", "channel", "reason", "consumer_words", "amount_minor",
                 "currency", "opened_at", "turn_key")
DISPUTE_REASONS = ("not_mine", "wrong_amount", "already_paid", "service", "fraud", "other")
DISPUTE_STATUSES = ("open", "upheld", "verified", "withdrawn")
ACCOUNT_FLAGS = ("bankruptcy", "attorney", "deceased", "cease_communication")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(column: str, values: tuple, name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def _create_tables() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("consumer_words", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _ts("opened_at"),
        _ts("resolved_at", nullable=True),
        sa.Column("resolution_note", sa.Text),
        sa.Column("agent", sa.String(200)),
        sa.Column("hold_id", sa.Integer),
        sa.Column("handoff_id", sa.Integer),
        sa.Column("turn_key", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
        _fk("disputes", "account_id", "accounts"),
        _fk("disputes", "hold_id", "holds"),
        _fk("disputes", "handoff_id", "handoffs"),
        sa.UniqueConstraint("turn_key", name="uq_disputes_turn_key"),
        _check("reason", DISPUTE_REASONS, "ck_disputes_reason"),
        _check("status", DISPUTE_STATUSES, "ck_disputes_status"),
    )
    op.create_index("ix_disputes_account_id", "disputes", ["account_id"])

    op.create_table(
        "account_flags",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("flag", sa.String(30), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("words", sa.Text),
        _ts("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_account_flags"),
        _fk("account_flags", "account_id", "accounts"),
        _check("flag", ACCOUNT_FLAGS, "ck_account_flags_flag"),
    )
    op.create_index("ix_account_flags_account", "account_flags", ["account_id", "recorded_at"])

    op.create_table(
        "payment_claims",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("paid_on", sa.Date),
        sa.Column("amount_minor", sa.BigInteger),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.Text),
        sa.Column("consumer_words", sa.Text, nullable=False),
        sa.Column("handoff_id", sa.Integer),
        _ts("recorded_at"),
        sa.Column("turn_key", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_claims"),
        _fk("payment_claims", "account_id", "accounts"),
        _fk("payment_claims", "handoff_id", "handoffs"),
        sa.UniqueConstraint("turn_key", name="uq_payment_claims_turn_key"),
    )
    op.create_index("ix_payment_claims_account_id", "payment_claims", ["account_id"])

    # No foreign key: disputes.handoff_id already points the other way, and SQLite cannot add one.
    op.add_column("handoffs", sa.Column("dispute_id", sa.Integer))
    op.create_index("ix_handoffs_dispute_id", "handoffs", ["dispute_id"])
    op.add_column("creditors", sa.Column("dispute_notice", sa.String(60)))


def _forbid_changes() -> None:
    """Flags and claims are append-only; a dispute's recorded facts never change and it is never deleted."""
    facts = ", ".join(DISPUTE_FACTS)
    if op.get_bind().dialect.name == "postgresql":
        # ledger_append_only() comes from migration 0001.
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()")
        op.execute(f"CREATE TRIGGER disputes_facts_fixed BEFORE UPDATE OF {facts} ON disputes "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
        op.execute("CREATE TRIGGER disputes_no_delete BEFORE DELETE ON disputes "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
        op.execute("CREATE TRIGGER disputes_no_truncate BEFORE TRUNCATE ON disputes "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()")
        return
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    op.execute(f"CREATE TRIGGER disputes_facts_fixed BEFORE UPDATE OF {facts} ON disputes "
               "BEGIN SELECT RAISE(ABORT, 'a dispute''s recorded facts never change'); END")
    op.execute("CREATE TRIGGER disputes_no_delete BEFORE DELETE ON disputes "
               "BEGIN SELECT RAISE(ABORT, 'disputes are never deleted'); END")


def upgrade() -> None:
    _create_tables()
    _forbid_changes()


def downgrade() -> None:
    op.drop_index("ix_handoffs_dispute_id", table_name="handoffs")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("dispute_id")
    with op.batch_alter_table("creditors") as batch:
        batch.drop_column("dispute_notice")
    for table in ("payment_claims", "account_flags", "disputes"):
        op.drop_table(table)
