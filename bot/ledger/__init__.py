"""The ledger adapter: SQLAlchemy tables, the SqlLedger repository, the placement importer, migrations."""
