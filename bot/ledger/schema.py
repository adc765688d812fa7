"""The ledger's tables (SQLAlchemy Core). Migrations create them; this module only describes them.

Balances are never stored: an account's balance is the sum of its ledger entries. The append-only
tables (ledger_entries, consents, verification_attempts, communications) are only ever INSERTed;
migration 0001 adds triggers that refuse UPDATE and DELETE on them (records kept for Reg F 1006.100).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.types import TypeDecorator

APPEND_ONLY_TABLES = ("ledger_entries", "consents", "verification_attempts", "communications")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC in and out; naive datetimes are refused rather than guessed at.

    SQLite has no time zones, so values are stored as naive UTC there and made aware on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text from an aggregate
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _enum_check(column: str, values: tuple, name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)


creditors = Table(
    "creditors",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("channels", String(100), nullable=False),  # comma-separated: sms,whatsapp,webchat
    Column("original_creditor", String(200)),
    Column("collector_name", String(200)),
    Column("currency", String(3), nullable=False),
    Column("plans_allowed", Boolean, nullable=False),
    Column("max_installments", Integer, nullable=False),
    Column("min_installment_minor", BigInteger),
    Column("frequencies", String(100), nullable=False),  # comma-separated, may be empty
    Column("settlement_floor_percent", Integer),
    Column("promise_max_days", Integer, nullable=False),
    Column("extension_policy", String(20), nullable=False),
    Column("min_partial_payment_minor", BigInteger),
    Column("updated_at", UtcDateTime, nullable=False),
    # Extra information the bot gives with a dispute (migration 0004): a notice name, see creditors.yml.
    Column("dispute_notice", String(60)),
    _enum_check("role", ("first_party", "agency"), "role"),
    _enum_check("extension_policy", ("none", "proof_required", "agent"), "extension_policy"),
)

consumers = Table(
    "consumers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("postal_code", String(10), nullable=False),
    Column("phone", String(16), nullable=False, index=True),  # E.164
    Column("email", String(254)),
    Column("language", String(5), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
# The importer matches a consumer by this key; the index keeps two rows from sharing it.
Index(
    "uq_consumers_identity",
    func.lower(consumers.c.first_name),
    func.lower(consumers.c.last_name),
    consumers.c.date_of_birth,
    consumers.c.phone,
    unique=True,
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_ref", String(64), nullable=False, unique=True),
    # Upper-case alphanumerics of account_ref: what a consumer types ("bw10001") finds "BW-10001".
    Column("ref_key", String(64), nullable=False, unique=True),
    Column("creditor_id", String(64), ForeignKey("creditors.id"), nullable=False, index=True),
    Column("consumer_id", Integer, ForeignKey("consumers.id"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("flags", Text, nullable=False),  # JSON list of strings
)

line_items = Table(
    "line_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("item_date", Date, nullable=False),
    Column("reference", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    UniqueConstraint("account_id", "reference", name="uq_line_items_account_reference"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # signed: charges +, payments/credits -
    Column("currency", String(3), nullable=False),
    Column("posted_at", UtcDateTime, nullable=False),
    Column("reference", String(100)),
    Column("description", Text),
    Column("idempotency_key", String(200), unique=True),
    _enum_check("kind", ("charge", "payment", "credit", "adjustment", "interest", "fee"), "kind"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("released_at", UtcDateTime),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("address", String(254), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("source", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_consents_channel_address", "channel", "address", "recorded_at"),
)

verification_attempts = Table(
    "verification_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("consumer_id", Integer, ForeignKey("consumers.id"), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("address", String(254), nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Index("ix_verification_attempts_consumer", "consumer_id", "attempted_at"),
)

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", String(200), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("account_ref", String(64)),
    Column("reason", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("transcript", Text, nullable=False),  # JSON list of {"role", "text", ...} dicts
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    # The dispute this handoff researches (migration 0004); no foreign key: disputes point back here.
    Column("dispute_id", Integer, index=True),
    # Agent work (migration 0005): who took it, when, and how it ended.
    Column("assigned_agent", String(64)),
    Column("assigned_at", UtcDateTime),
    Column("outcome", String(40)),
    Column("resolution_note", Text),
    _enum_check("status", ("open", "assigned", "resolved"), "status"),
)

communications = Table(
    "communications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("direction", String(3), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("address", String(254), nullable=False),
    Column("conversation_id", String(200), nullable=False, index=True),
    Column("account_ref", String(64)),
    Column("kind", String(50), nullable=False),
    Column("body", Text, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    _enum_check("direction", ("in", "out"), "direction"),
)
