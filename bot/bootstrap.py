"""Wires the adapters once per process: settings, the engine, the migrated ledger.

Nothing here runs at import time; the first call builds and caches (functools.lru_cache).
"""
from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from bot.config import Settings
from bot.ledger.migrations import upgrade
from bot.ledger.repository import SqlLedger
from bot.security import LinkSigner, Sealer, load_or_create_key

SQLITE_BUSY_TIMEOUT_MS = 30_000


@functools.lru_cache(maxsize=None)
def settings() -> Settings:
    return Settings.from_env()


@functools.lru_cache(maxsize=None)
def engine() -> Engine:
    return make_engine(settings().database_url)


@functools.lru_cache(maxsize=None)
def ledger() -> SqlLedger:
    """The migrated ledger every action and web app shares."""
    upgrade(engine())
    return SqlLedger(engine())


@functools.lru_cache(maxsize=None)
def secret_key() -> str:
    """SECRET_KEY, or a key generated once per installation under var/."""
    configured = settings().secret_key
    return configured or load_or_create_key(settings().project_root / "var" / "secret.key")


@functools.lru_cache(maxsize=None)
def sealer() -> Sealer:
    return Sealer(secret_key())


@functools.lru_cache(maxsize=None)
def link_signer() -> LinkSigner:
    return LinkSigner(secret_key())


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its folder, WAL, a busy timeout and real transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    if not in_memory and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    extra = {"poolclass": StaticPool} if in_memory else {}
    sqlite_engine = create_engine(
        url, future=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **extra
    )
    _configure_sqlite(sqlite_engine)
    return sqlite_engine


def _configure_sqlite(sqlite_engine: Engine) -> None:
    """Several processes write one file: WAL lets readers go on, the busy timeout makes writers wait.

    pysqlite's own transaction handling starts transactions late and breaks SAVEPOINT; we turn it
    off and emit BEGIN ourselves (BEGIN IMMEDIATE when a writer asks, so it waits for the write lock
    up front instead of failing mid-transaction).
    """

    @event.listens_for(sqlite_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sqlite_engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, got {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
