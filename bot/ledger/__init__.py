"""The ledger adapter: SQLAlchemy tables, the SqlLedger repository, the placement importer, migrations."""

# Tables described outside schema.py join the shared metadata when the package is imported, so
# migrations, the schema comparison test and the test fixtures see every table.
from bot.ledger import schema_messaging  # noqa: E402,F401
from bot.ledger import schema_payments  # noqa: E402,F401
from bot.ledger import schema_disputes  # noqa: E402,F401
from bot.ledger import schema_agents  # noqa: E402,F401
