"""Settings from the environment, read once by bot.bootstrap.

Relative SQLite paths resolve against the project root, not the working directory, so the Rasa
action server, the backend and the CLI share one ledger wherever they are started from.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///var/ledger.db"


def resolve_database_url(url: str, root: Path = PROJECT_ROOT) -> str:
    """Make a relative SQLite file path absolute under `root`; other URLs pass through unchanged."""
    scheme, sep, path = url.partition(":///")
    if not sep or not scheme.startswith("sqlite") or not path or path.startswith(("/", ":memory:", "file:")):
        return url
    return f"{scheme}:///{(root / path).as_posix()}"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name} must be a port number (1-65535), got {raw!r}")
    return int(raw)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


def _opt(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """Where the stores are, which ports to use, and the vendor secrets (hidden from repr)."""

    database_url: str
    project_root: Path = PROJECT_ROOT
    bind_host: str = "127.0.0.1"  # where the services listen; loopback unless a deployment says otherwise
    rasa_port: int = 5005
    actions_port: int = 5055
    backend_port: int = 8000
    rasa_public_url: str = "http://localhost:5005"
    public_url: Optional[str] = None
    tracker_store_url: Optional[str] = None
    lock_store_url: Optional[str] = None
    lock_store_kind: str = "atomic"  # "rasa": Rasa's own RedisLockStore (only to show what it loses)
    event_broker_url: Optional[str] = None  # amqp://...: RabbitMQ feeds the communications record
    # Where Rasa reaches the action server (containers: another host); None: loopback.
    action_endpoint_url: Optional[str] = None
    stripe_api_key: Optional[str] = field(default=None, repr=False)
    stripe_webhook_secret: Optional[str] = field(default=None, repr=False)
    twilio_account_sid: Optional[str] = field(default=None, repr=False)
    twilio_auth_token: Optional[str] = field(default=None, repr=False)
    twilio_from: Optional[str] = None
    whatsapp_from: Optional[str] = None
    agent_api_token: Optional[str] = field(default=None, repr=False)
    agent_hours: Optional[str] = None  # e.g. "mon-fri 09:00-17:00 America/New_York"; None: always staffed
    secret_key: Optional[str] = field(default=None, repr=False)  # None: var/secret.key, made once
    # Messaging (docs/channels.md). TWILIO_API_BASE points the Twilio client at a local fake (tests).
    twilio_api_base: Optional[str] = None
    stripe_api_base: Optional[str] = None  # tests: STRIPE_API_BASE points stripe-python at a local fake
    sms_max_segments: int = 3
    outbound_weekly_cap: int = 3
    messaging_config: Optional[Path] = None  # WhatsApp templates; None: <project>/messaging.yml
    webchat_allowed_origins: Tuple[str, ...] = ()  # empty: the backend's own origins
    # Email (web chat codes): SMTP_URL unset -> the sandbox mailbox, .eml files under var/mail.
    smtp_url: Optional[str] = field(default=None, repr=False)  # may carry a password
    email_from: Optional[str] = None
    # Payments: Rasa's HTTP API as the backend reaches it (payment outcomes via trigger_intent) and its
    # token (None: derived from the secret key by bot.bootstrap.rasa_api_token, so every process agrees).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_api_token: Optional[str] = field(default=None, repr=False)
    payments_scheduler_seconds: int = 60  # the backend's installment/promise scheduler; 0 turns it off

    @property
    def public_backend_url(self) -> str:
        """Where consumers reach the backend (personal links, payment pages)."""
        return (self.public_url or f"http://localhost:{self.backend_port}").rstrip("/")

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        """Build settings from `env` (default os.environ); a malformed port raises ValueError."""
        env = os.environ if env is None else env
        rasa_port = _port(env, "RASA_PORT", 5005)
        return cls(
            database_url=resolve_database_url(_opt(env, "DATABASE_URL") or DEFAULT_DATABASE_URL),
            bind_host=_opt(env, "BIND_HOST") or "127.0.0.1",
            rasa_port=rasa_port,
            actions_port=_port(env, "ACTIONS_PORT", 5055),
            backend_port=_port(env, "BACKEND_PORT", 8000),
            rasa_public_url=_opt(env, "RASA_PUBLIC_URL") or f"http://localhost:{rasa_port}",
            public_url=_opt(env, "PUBLIC_URL"),
            tracker_store_url=_opt(env, "TRACKER_STORE_URL"),
            lock_store_url=_opt(env, "LOCK_STORE_URL"),
            lock_store_kind=_opt(env, "LOCK_STORE") or "atomic",
            event_broker_url=_opt(env, "EVENT_BROKER_URL"),
            action_endpoint_url=_opt(env, "ACTION_ENDPOINT_URL"),
            stripe_api_key=_opt(env, "STRIPE_API_KEY"),
            stripe_webhook_secret=_opt(env, "STRIPE_WEBHOOK_SECRET"),
            twilio_account_sid=_opt(env, "TWILIO_ACCOUNT_SID"),
            twilio_auth_token=_opt(env, "TWILIO_AUTH_TOKEN"),
            twilio_from=_opt(env, "TWILIO_FROM"),
            whatsapp_from=_opt(env, "WHATSAPP_FROM"),
            agent_api_token=_opt(env, "AGENT_API_TOKEN"),
            agent_hours=_opt(env, "AGENT_HOURS"),
            secret_key=_opt(env, "SECRET_KEY"),
            rasa_url=_opt(env, "RASA_URL") or f"http://127.0.0.1:{rasa_port}",
            rasa_api_token=_opt(env, "RASA_API_TOKEN"),
            payments_scheduler_seconds=_count(env, "PAYMENTS_SCHEDULER_SECONDS", 60),
            twilio_api_base=_opt(env, "TWILIO_API_BASE"),
            stripe_api_base=_opt(env, "STRIPE_API_BASE"),
            sms_max_segments=_count(env, "SMS_MAX_SEGMENTS", 3),
            outbound_weekly_cap=_count(env, "OUTBOUND_WEEKLY_CAP", 3),
            messaging_config=Path(_opt(env, "MESSAGING_CONFIG")) if _opt(env, "MESSAGING_CONFIG") else None,
            smtp_url=_opt(env, "SMTP_URL"),
            email_from=_opt(env, "EMAIL_FROM"),
            webchat_allowed_origins=tuple(
                o.strip().rstrip("/") for o in (_opt(env, "WEBCHAT_ALLOWED_ORIGINS") or "").split(",") if o.strip()
            ),
        )
