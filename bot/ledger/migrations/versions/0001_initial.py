"""Initial ledger: creditors, consumers, accounts, items, entries, holds and the append-only records.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("ledger_entries", "consents", "verification_attempts", "communications")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(column: str, values: tuple, name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def _create_reference_tables() -> None:
    op.create_table(
        "creditors",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("channels", sa.String(100), nullable=False),
        sa.Column("original_creditor", sa.String(200)),
        sa.Column("collector_name", sa.String(200)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("plans_allowed", sa.Boolean, nullable=False),
        sa.Column("max_installments", sa.Integer, nullable=False),
        sa.Column("min_installment_minor", sa.BigInteger),
        sa.Column("frequencies", sa.String(100), nullable=False),
        sa.Column("settlement_floor_percent", sa.Integer),
        sa.Column("promise_max_days", sa.Integer, nullable=False),
        sa.Column("extension_policy", sa.String(20), nullable=False),
        sa.Column("min_partial_payment_minor", sa.BigInteger),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_creditors"),
        _check("role", ("first_party", "agency"), "ck_creditors_role"),
        _check("extension_policy", ("none", "proof_required", "agent"), "ck_creditors_extension_policy"),
    )
    op.create_table(
        "consumers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("date_of_birth", sa.Date, nullable=False),
        sa.Column("postal_code", sa.String(10), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_consumers"),
    )
    op.create_index("ix_consumers_phone", "consumers", ["phone"])
    op.create_index(
        "uq_consumers_identity",
        "consumers",
        [sa.text("lower(first_name)"), sa.text("lower(last_name)"), "date_of_birth", "phone"],
        unique=True,
    )


def _create_account_tables() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_ref", sa.String(64), nullable=False),
        sa.Column("ref_key", sa.String(64), nullable=False),
        sa.Column("creditor_id", sa.String(64), nullable=False),
        sa.Column("consumer_id", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _ts("placed_at"),
        sa.Column("flags", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("account_ref", name="uq_accounts_account_ref"),
        sa.UniqueConstraint("ref_key", name="uq_accounts_ref_key"),
        sa.ForeignKeyConstraint(["creditor_id"], ["creditors.id"], name="fk_accounts_creditor_id_creditors"),
        sa.ForeignKeyConstraint(["consumer_id"], ["consumers.id"], name="fk_accounts_consumer_id_consumers"),
    )
    op.create_index("ix_accounts_creditor_id", "accounts", ["creditor_id"])
    op.create_index("ix_accounts_consumer_id", "accounts", ["consumer_id"])
    op.create_table(
        "line_items",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("item_date", sa.Date, nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_line_items"),
        sa.UniqueConstraint("account_id", "reference", name="uq_line_items_account_reference"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_line_items_account_id_accounts"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _ts("posted_at"),
        sa.Column("reference", sa.String(100)),
        sa.Column("description", sa.Text),
        sa.Column("idempotency_key", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_entries_idempotency_key"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_ledger_entries_account_id_accounts"),
        _check(
            "kind",
            ("charge", "payment", "credit", "adjustment", "interest", "fee"),
            "ck_ledger_entries_kind",
        ),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("released_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_holds_account_id_accounts"),
    )
    op.create_index("ix_holds_account_id", "holds", ["account_id"])


def _create_record_tables() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        _ts("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_channel_address", "consents", ["channel", "address", "recorded_at"])
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("consumer_id", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        _ts("attempted_at"),
        sa.PrimaryKeyConstraint("id", name="pk_verification_attempts"),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name="fk_verification_attempts_consumer_id_consumers"
        ),
    )
    op.create_index(
        "ix_verification_attempts_consumer", "verification_attempts", ["consumer_id", "attempted_at"]
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("account_ref", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("resolved_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
        _check("status", ("open", "assigned", "resolved"), "ck_handoffs_status"),
    )
    op.create_index("ix_handoffs_conversation_id", "handoffs", ["conversation_id"])
    op.create_table(
        "communications",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("account_ref", sa.String(64)),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _ts("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_communications"),
        _check("direction", ("in", "out"), "ck_communications_direction"),
    )
    op.create_index("ix_communications_conversation_id", "communications", ["conversation_id"])


def _forbid_changes() -> None:
    """Records are kept append-only (Reg F 1006.100): the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
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


def upgrade() -> None:
    _create_reference_tables()
    _create_account_tables()
    _create_record_tables()
    _forbid_changes()


def downgrade() -> None:
    for table in (
        "communications",
        "handoffs",
        "verification_attempts",
        "consents",
        "holds",
        "ledger_entries",
        "line_items",
        "accounts",
        "consumers",
        "creditors",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
