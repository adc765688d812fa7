"""Alembic environment, run only from code (bot.ledger.migrations.upgrade) on a given connection.

The caller owns the connection and its transaction (and any lock around it), so several processes
starting at once migrate one after another instead of racing.
"""
from alembic import context

from bot.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run migrations with `python -m bot migrate` (bot.ledger.migrations.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
