"""Wires the adapters once per process: settings, the engine, the migrated ledger.

Nothing here runs at import time; the first call builds and caches (`built_once`).
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool

from bot.config import Settings
from bot.ledger.migrations import upgrade
from bot.ledger.repository import SqlLedger
from bot.security import LinkSigner, Sealer, load_or_create_key

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def built_once(factory: Callable[..., Any]) -> Callable[..., Any]:
    """functools.lru_cache, with threads that ask at the same moment waiting for the one build.

    The action server answers in worker threads: without the lock, eight concurrent first payments
    each loaded the response catalogs (a second apiece) and each built an engine of its own.
    """
    cached = functools.lru_cache(maxsize=None)(factory)
    lock = threading.RLock()

    @functools.wraps(factory)
    def build(*args: Any) -> Any:
        with lock:
            return cached(*args)

    build.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return build


@built_once
def settings() -> Settings:
    return Settings.from_env()


@built_once
def engine() -> Engine:
    return make_engine(settings().database_url)


@built_once
def ledger() -> SqlLedger:
    """The migrated ledger every action and web app shares."""
    upgrade(engine())
    return SqlLedger(engine())


@built_once
def secret_key() -> str:
    """SECRET_KEY, or a key generated once per installation under var/."""
    configured = settings().secret_key
    return configured or load_or_create_key(settings().project_root / "var" / "secret.key")


@built_once
def sealer() -> Sealer:
    return Sealer(secret_key())


@built_once
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
    # A file keeps its connections (SQLAlchemy 1.4 would open and close it for every statement).
    extra = {"poolclass": StaticPool if in_memory else QueuePool}
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


# --- messaging: channels, the outbound service, web chat identity (docs/channels.md) -----------


@built_once
def messaging():
    """Message ids, outbound attempts, pending choices and one-time codes (bot.ledger.messaging)."""
    from bot.ledger.messaging import SqlMessaging

    upgrade(engine())
    return SqlMessaging(engine())


@built_once
def messaging_config():
    """WhatsApp templates from messaging.yml (MESSAGING_CONFIG names another file)."""
    from bot.messaging_config import DEFAULT_FILE, load_messaging_config

    return load_messaging_config(settings().messaging_config or settings().project_root / DEFAULT_FILE)


@built_once
def languages():
    """The languages a conversation can be held in: English and every catalog under locales/."""
    from bot.translations import available_languages

    return tuple(available_languages(settings().project_root))


@built_once
def catalogs():
    """The responses in every language, for messages rendered outside Rasa's NLG (outbound)."""
    from bot.translations import Catalogs

    return Catalogs(settings().project_root)


@built_once
def twilio_sender(channel: str):
    """The Twilio sender of `channel` (sms, whatsapp), or None when Twilio is not configured for it."""
    from bot.adapters.twilio_sender import build_sender

    return build_sender(settings(), channel)


def personal_link(account_ref: str, language: str, days: int = 7) -> str:
    """A signed web chat link that opens the conversation identified (verification still follows)."""
    token = link_signer().sign(account_ref, ttl=days * 24 * 3600)
    return f"{settings().public_backend_url}/chat?t={token}&lang={language}"


@built_once
def email_sender():
    """SMTP when SMTP_URL is set, else the sandbox mailbox (.eml files under var/mail)."""
    from bot.adapters.email_sender import build_email_sender

    return build_email_sender(settings())


@built_once
def outbound():
    """The outbound messaging service every proactive message goes through."""
    from bot.services.outbound import OutboundService

    senders = {channel: twilio_sender(channel) for channel in ("sms", "whatsapp")}
    return OutboundService(
        ledger(), messaging(), catalogs(), {**senders, "email": email_sender()},
        config=messaging_config(), weekly_cap=settings().outbound_weekly_cap,
        sms_max_segments=settings().sms_max_segments, link_for=personal_link,
    )


@built_once
def one_time_codes():
    """Web chat possession codes, sent through the outbound service."""
    from bot.services.one_time_codes import OneTimeCodes

    return OneTimeCodes(ledger(), messaging(), outbound(), secret_key())


@built_once
def session_signer():
    """Signs the web chat's session tokens (conversation id bound to the browser that got it)."""
    from bot.web.webchat_session import SessionSigner

    return SessionSigner(secret_key())


# --- payments: the gateway (Stripe or the local sandbox), notifier and service (docs/payments.md) -----


@built_once
def rasa_api_token() -> str:
    """RASA_API_TOKEN, or one derived from the secret key so Rasa (--auth-token) and the backend agree."""
    from bot.payments.wiring import derive_rasa_api_token

    return settings().rasa_api_token or derive_rasa_api_token(secret_key())


@built_once
def payments():
    """The PaymentsService: Stripe when STRIPE_API_KEY is set, else the sandbox served by the backend."""
    from bot.payments.wiring import build_payments_service

    return build_payments_service(settings(), ledger(), rasa_api_token())


# --- disputes and special circumstances (journeys 9-13) ------------------------------------------


@built_once
def disputes():
    """The Disputes service on the migrated ledger; resolutions are worded in the consumer's language."""
    from bot.ledger.disputes import SqlDisputes
    from bot.services.disputes import Disputes

    upgrade(engine())
    return Disputes(SqlDisputes(engine()), language_of=lambda ref: ledger().statement(ref).consumer.language)


# --- agents: accounts, the console's authentication (docs/agents.md) ----------------------------------


@built_once
def agents():
    """Agent accounts and the agent's side of handoffs (bot.ledger.agents)."""
    from bot.ledger.agents import SqlAgents

    upgrade(engine())
    return SqlAgents(engine())


@built_once
def agent_auth():
    """Console sessions (signed cookies) and the API's bearer token (AGENT_API_TOKEN)."""
    from bot.web.agent_auth import AgentAuth

    return AgentAuth(agents(), secret_key(), settings().agent_api_token,
                     secure_cookies=settings().public_backend_url.startswith("https://"))


@built_once
def agent_desk():
    """Take, reply, resolve: the agent's side of a handoff, talking to conversations through Rasa's API."""
    from bot.adapters.rasa_conversations import RasaConversations
    from bot.services.agent_desk import AgentDesk

    return AgentDesk(ledger(), agents(), RasaConversations(settings().rasa_url, rasa_api_token()),
                     disputes=disputes(), catalogs=catalogs())


@built_once
def agent_hours():
    """When agents work (AGENT_HOURS); None: always. A malformed setting fails at startup."""
    from bot.domain.agent_hours import AgentHours

    return AgentHours.parse(settings().agent_hours)


# --- the action server's start-up -----------------------------------------------------------------


def build_action_services() -> None:
    """Every service the actions call, built before the action server serves (`bot.action_server`).

    Built on first use, the first payment after a start waited for Stripe's client to be imported and
    every language's responses to be loaded: 200-300 ms more than the next consumer's. A service that
    fails to build is logged and tried again when an action first needs it.
    """
    started = time.perf_counter()
    for build in (ledger, languages, catalogs, payments, disputes, sealer, link_signer, one_time_codes, agent_hours):
        try:
            build()
        except Exception:
            logger.exception("could not build %s before serving; an action needing it will try again", build.__name__)
    logger.info("built the actions' services in %.0f ms", (time.perf_counter() - started) * 1000)
