"""Payments: payment requests, settlement offers, plans and installments, promises, gateway events,
and the outbox of consumer notifications (bot/ledger/schema_payments.py describes them).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIVE_PLAN_STATUSES = ("pending", "active")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(column: str, values: tuple, name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=f"fk_{table}_account_id_accounts")


def upgrade() -> None:
    op.create_table(
        "settlement_offers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("balance_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("floor_percent", sa.Integer, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_offers"),
        _account_fk("settlement_offers"),
        _check("status", ("offered", "accepted", "withdrawn"), "ck_settlement_offers_status"),
    )
    op.create_index("ix_settlement_offers_account_id", "settlement_offers", ["account_id"])

    op.create_table(
        "payment_plans",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("frequency", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_method_ref", sa.String(255)),
        sa.Column("customer_ref", sa.String(255)),
        sa.Column("misses", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(200)),
        sa.Column("channel", sa.String(20)),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payment_plans"),
        _account_fk("payment_plans"),
        _check("status", ("pending", "active", "completed", "broken", "cancelled", "replaced"),
               "ck_payment_plans_status"),
    )
    op.create_index("ix_payment_plans_account_id", "payment_plans", ["account_id"])
    live = sa.text("status IN ('pending', 'active')")
    op.create_index("uq_payment_plans_live_account", "payment_plans", ["account_id"], unique=True,
                    sqlite_where=live, postgresql_where=live)

    op.create_table(
        "plan_installments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at"),
        _ts("claimed_at", nullable=True),
        sa.Column("last_error", sa.String(60)),
        sa.Column("paid_request_id", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name="pk_plan_installments"),
        sa.ForeignKeyConstraint(["plan_id"], ["payment_plans.id"], name="fk_plan_installments_plan_id_payment_plans"),
        sa.UniqueConstraint("plan_id", "seq", name="uq_plan_installments_plan_seq"),
        _check("status", ("scheduled", "processing", "paid", "failed", "retrying", "cancelled"),
               "ck_plan_installments_status"),
    )
    op.create_index("ix_plan_installments_plan_id", "plan_installments", ["plan_id"])
    op.create_index("ix_plan_installments_due", "plan_installments", ["status", "next_attempt_at"])

    op.create_table(
        "payment_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decline_reason", sa.String(60)),
        sa.Column("gateway", sa.String(20), nullable=False),
        sa.Column("gateway_ref", sa.String(255)),
        sa.Column("payment_ref", sa.String(255)),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("save_method", sa.Boolean, nullable=False),
        sa.Column("plan_id", sa.Integer),
        sa.Column("installment_id", sa.Integer),
        sa.Column("settlement_offer_id", sa.Integer),
        sa.Column("refunded_minor", sa.BigInteger, nullable=False),
        sa.Column("disputed_minor", sa.BigInteger, nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger),
        sa.Column("conversation_id", sa.String(200)),
        sa.Column("channel", sa.String(20)),
        _ts("expires_at"),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payment_requests"),
        sa.UniqueConstraint("idempotency_key", name="uq_payment_requests_idempotency_key"),
        _account_fk("payment_requests"),
        sa.ForeignKeyConstraint(["plan_id"], ["payment_plans.id"], name="fk_payment_requests_plan_id_payment_plans"),
        sa.ForeignKeyConstraint(["installment_id"], ["plan_installments.id"],
                                name="fk_payment_requests_installment_id_plan_installments"),
        sa.ForeignKeyConstraint(["settlement_offer_id"], ["settlement_offers.id"],
                                name="fk_payment_requests_settlement_offer_id_settlement_offers"),
        _check("purpose", ("full", "partial", "settlement", "installment", "setup"), "ck_payment_requests_purpose"),
        _check("status", ("open", "succeeded", "failed", "expired", "cancelled", "refunded"),
               "ck_payment_requests_status"),
    )
    op.create_index("ix_payment_requests_account_id", "payment_requests", ["account_id"])
    op.create_index("ix_payment_requests_gateway_ref", "payment_requests", ["gateway_ref"])
    op.create_index("ix_payment_requests_payment_ref", "payment_requests", ["payment_ref"])

    op.create_table(
        "promises",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("paid_minor", sa.BigInteger),
        sa.Column("conversation_id", sa.String(200)),
        sa.Column("channel", sa.String(20)),
        _ts("created_at"),
        _ts("resolved_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_promises"),
        _account_fk("promises"),
        _check("status", ("pending", "kept", "broken", "cancelled"), "ck_promises_status"),
    )
    op.create_index("ix_promises_account_id", "promises", ["account_id"])

    op.create_table(
        "gateway_events",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("request_id", sa.String(40)),
        sa.Column("payment_ref", sa.String(255)),
        sa.Column("body", sa.Text, nullable=False),
        _ts("received_at"),
        _ts("applied_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_events"),
    )
    op.create_index("ix_gateway_events_request_id", "gateway_events", ["request_id"])
    op.create_index("ix_gateway_events_payment_ref", "gateway_events", ["payment_ref"])

    op.create_table(
        "payment_notifications",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(40)),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20)),
        sa.Column("event_name", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("deliver_after"),
        sa.Column("last_error", sa.Text),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payment_notifications"),
        sa.UniqueConstraint("dedupe_key", name="uq_payment_notifications_dedupe_key"),
        _account_fk("payment_notifications"),
        _check("status", ("pending", "sent", "failed", "skipped"), "ck_payment_notifications_status"),
    )
    op.create_index("ix_payment_notifications_due", "payment_notifications", ["status", "deliver_after"])


def downgrade() -> None:
    for table in ("payment_notifications", "gateway_events", "promises", "payment_requests", "plan_installments",
                  "payment_plans", "settlement_offers"):
        op.drop_table(table)
