"""Ledger database fixtures: every test that asks for `engine` or `ledger` runs on SQLite and PostgreSQL.

PostgreSQL: one uniquely named database per test session on 127.0.0.1 (TEST_POSTGRES_URL overrides
the admin URL), migrated once and dropped at the end; each test starts from empty tables with ids
from 1. The postgres case is skipped only when the server cannot be reached.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Integer, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.bootstrap import make_engine
from bot.ledger.importer import import_placements
from bot.ledger.migrations import upgrade
from bot.ledger.repository import SqlLedger
from bot.ledger.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_database_url():
    """Create a throwaway database for the session; skip when no server answers."""
    admin = create_engine(
        POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {make_url(POSTGRES_ADMIN_URL)!r}: {exc.orig}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    """Empty every ledger table and restart ids at 1 (replica role: the append-only triggers sleep)."""
    engine = create_engine(url, future=True)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        for table in metadata.sorted_tables:
            if isinstance(table.c.id.type, Integer):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), 1, false)"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """An empty database of each kind (SQLite: a new file, not yet migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'ledger.db'}"
    url = request.getfixturevalue("postgres_database_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def engine(database_url):
    """A migrated engine, disposed after the test."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(engine) -> SqlLedger:
    return SqlLedger(engine)


@pytest.fixture
def demo_placements() -> Path:
    return ROOT / "demo" / "placements.csv"


@pytest.fixture
def demo_creditors() -> Path:
    return ROOT / "demo" / "creditors.yml"


@pytest.fixture
def demo_ledger(engine, demo_placements, demo_creditors) -> SqlLedger:
    """The ledger with the demo placement imported (Maya Thompson is consumer 1, Lucía Hernández 2)."""
    import_placements(engine, demo_placements, demo_creditors)
    return SqlLedger(engine)
