"""What every repository on the ledger's engine shares: the engine and one way to write."""
from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy.engine import Connection, Engine


class SqlStore:
    """Base of SqlLedger, SqlMessaging and SqlPayments (SQLite or PostgreSQL, migrated beforehand)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction; on SQLite it takes the write lock up front (waits, never fails mid-way)."""
        with self.engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                yield connection
