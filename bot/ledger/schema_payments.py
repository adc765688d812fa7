"""Payments tables (migration 0003), on the ledger's metadata so migrations and tests see them.

Money that moved is never stored here: a successful charge is one `payment` row in the append-only
ledger_entries (idempotency key `payment:<request id>`), a refund or chargeback a positive
`adjustment`. These tables hold the state around it: what was asked for (payment_requests), what is
scheduled (payment_plans, plan_installments), what was promised (promises), which gateway events
were seen (gateway_events, unique by the gateway's event id), which settlement was offered, and the
outbox of consumer notifications. No card data is ever stored: saved payment methods are gateway
tokens (Stripe pm_..., or a sandbox token).
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
    UniqueConstraint,
)

from bot.ledger.schema import UtcDateTime, metadata

REQUEST_PURPOSES = ("full", "partial", "settlement", "installment", "setup")
REQUEST_STATUSES = ("open", "succeeded", "failed", "expired", "cancelled", "refunded")
PLAN_STATUSES = ("pending", "active", "completed", "broken", "cancelled", "replaced")
LIVE_PLAN_STATUSES = ("pending", "active")
INSTALLMENT_STATUSES = ("scheduled", "processing", "paid", "failed", "retrying", "cancelled")
PROMISE_STATUSES = ("pending", "kept", "broken", "cancelled")
NOTIFICATION_STATUSES = ("pending", "sent", "failed", "skipped")


def _check(column: str, values: tuple, name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)


payment_requests = Table(
    "payment_requests",
    metadata,
    # Random and unguessable: it is the capability in the hosted page's URL (/pay/<id>).
    Column("id", String(40), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("decline_reason", String(60)),
    Column("gateway", String(20), nullable=False),
    Column("gateway_ref", String(255), index=True),  # checkout session id
    Column("payment_ref", String(255), index=True),  # payment intent / charge id once known
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("url", Text),
    Column("save_method", Boolean, nullable=False),
    Column("plan_id", Integer, ForeignKey("payment_plans.id")),
    Column("installment_id", Integer, ForeignKey("plan_installments.id")),
    Column("settlement_offer_id", Integer, ForeignKey("settlement_offers.id")),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("disputed_minor", BigInteger, nullable=False),
    Column("balance_after_minor", BigInteger),
    Column("conversation_id", String(200)),
    Column("channel", String(20)),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    _check("purpose", REQUEST_PURPOSES, "purpose"),
    _check("status", REQUEST_STATUSES, "status"),
)

settlement_offers = Table(
    "settlement_offers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("balance_minor", BigInteger, nullable=False),  # the collectible balance it settles
    Column("currency", String(3), nullable=False),
    Column("floor_percent", Integer, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    _check("status", ("offered", "accepted", "withdrawn"), "status"),
)

payment_plans = Table(
    "payment_plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("frequency", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_method_ref", String(255)),  # a gateway token, never card data
    Column("customer_ref", String(255)),
    Column("misses", Integer, nullable=False),
    Column("conversation_id", String(200)),
    Column("channel", String(20)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    _check("status", PLAN_STATUSES, "status"),
)
# At most one live (pending or active) plan per account, enforced by the database.
Index(
    "uq_payment_plans_live_account",
    payment_plans.c.account_id,
    unique=True,
    sqlite_where=payment_plans.c.status.in_(LIVE_PLAN_STATUSES),
    postgresql_where=payment_plans.c.status.in_(LIVE_PLAN_STATUSES),
)

plan_installments = Table(
    "plan_installments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("plan_id", Integer, ForeignKey("payment_plans.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),  # 1-based
    Column("due", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime),
    Column("last_error", String(60)),
    Column("paid_request_id", String(40)),
    UniqueConstraint("plan_id", "seq", name="uq_plan_installments_plan_seq"),
    _check("status", INSTALLMENT_STATUSES, "status"),
)
Index("ix_plan_installments_due", plan_installments.c.status, plan_installments.c.next_attempt_at)

promises = Table(
    "promises",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("paid_minor", BigInteger),  # paid since the promise, when it was resolved
    Column("conversation_id", String(200)),
    Column("channel", String(20)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    _check("status", PROMISE_STATUSES, "status"),
)

gateway_events = Table(
    "gateway_events",
    metadata,
    Column("id", String(255), primary_key=True),  # the gateway's event id: a redelivery is refused here
    Column("type", String(60), nullable=False),
    Column("request_id", String(40), index=True),
    Column("payment_ref", String(255), index=True),
    Column("body", Text, nullable=False),  # the normalized event as JSON (no card data exists in it)
    Column("received_at", UtcDateTime, nullable=False),
    Column("applied_at", UtcDateTime),  # NULL: waiting for an earlier event (e.g. a refund before its payment)
)

payment_notifications = Table(
    "payment_notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("request_id", String(40)),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("conversation_id", String(200), nullable=False),
    Column("channel", String(20)),
    Column("event_name", String(60), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("deliver_after", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    _check("status", NOTIFICATION_STATUSES, "status"),
)
Index("ix_payment_notifications_due", payment_notifications.c.status, payment_notifications.c.deliver_after)
