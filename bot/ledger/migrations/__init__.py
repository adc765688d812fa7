"""Alembic migrations, run from code: no alembic.ini, the script location is this folder."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any constant works; it only has to be the same in every process that migrates this database.
_PG_MIGRATION_LOCK = 7_265_840_011


def alembic_config(connection: Optional[Connection] = None) -> Config:
    """An in-memory Alembic config pointing at this folder, carrying the connection to migrate."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> Optional[str]:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> Optional[str]:
    """Migrate to `revision` under a database-wide write lock; a no-op when already there.

    The lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) makes processes that
    start together wait for each other; Alembic then re-reads the version inside the lock.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return head_revision()
    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            command.upgrade(alembic_config(connection), revision)
    return current_revision(engine)
