"""Agents: accounts of the people who work handoffs, their messages, and handoff assignment/outcome
columns (bot/ledger/schema_agents.py and the handoffs table in bot/ledger/schema.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HANDOFF_COLUMNS = (
    ("assigned_agent", sa.String(64)),
    ("assigned_at", sa.DateTime(timezone=True)),
    ("outcome", sa.String(40)),
    ("resolution_note", sa.Text),
)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("username", name="uq_agents_username"),
    )
    op.create_table(
        "agent_messages",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("handoff_id", sa.Integer, nullable=False),
        sa.Column("agent_username", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("delivery_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_agent_messages"),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], name="fk_agent_messages_handoff_id_handoffs"),
    )
    op.create_index("ix_agent_messages_handoff_id", "agent_messages", ["handoff_id"])
    for name, type_ in HANDOFF_COLUMNS:
        op.add_column("handoffs", sa.Column(name, type_))


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        for name, _ in reversed(HANDOFF_COLUMNS):
            batch.drop_column(name)
    op.drop_index("ix_agent_messages_handoff_id", table_name="agent_messages")
    op.drop_table("agent_messages")
    op.drop_table("agents")
