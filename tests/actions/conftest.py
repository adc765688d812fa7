"""Actions run against the real ledger (SQLite, demo placement) with a fixed clock and key."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from rasa_sdk import Tracker

from bot.bootstrap import make_engine
from bot.ledger.importer import import_placements
from bot.ledger.migrations import upgrade
from bot.ledger.repository import SqlLedger
from bot.ledger.payments import SqlPayments
from bot.payments.notifier import ConsumerNotifier
from bot.payments.sandbox import SandboxGateway
from bot.payments.service import PaymentsService
from bot.security import LinkSigner, Sealer

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo_ledger(tmp_path) -> SqlLedger:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    import_placements(engine, ROOT / "demo" / "placements.csv", ROOT / "demo" / "creditors.yml")
    yield SqlLedger(engine)
    engine.dispose()


class RecordingNotifier(ConsumerNotifier):
    """Stands in for Rasa's trigger_intent API: keeps what the consumer would be told."""

    def __init__(self) -> None:
        self.sent = []

    def notify(self, conversation_id, channel, event_name, payload) -> None:
        self.sent.append((conversation_id, event_name, dict(payload)))


@pytest.fixture
def payments(demo_ledger):
    return PaymentsService(demo_ledger, SqlPayments(demo_ledger.engine), SandboxGateway("http://localhost:8000", None),
                           RecordingNotifier(), clock=lambda: NOW)


@pytest.fixture
def services(demo_ledger, payments):
    return {"ledger": demo_ledger, "sealer": Sealer("test"), "link_signer": LinkSigner("test"),
            "clock": lambda: NOW, "payments": payments}


def make_tracker(sender="+14155550101", text="", intent=None, slots=None, events=None, metadata=None,
                 channel="rest") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [],
              "metadata": metadata or {}}
    base_events = [{"event": "user", "text": text, "input_channel": channel, "parse_data": latest}]
    return Tracker(sender, {"language": "en", **(slots or {})}, latest, (events or []) + base_events, False,
                   None, {}, "action_listen")


def responses(dispatcher):
    return [message["response"] for message in dispatcher.messages]
