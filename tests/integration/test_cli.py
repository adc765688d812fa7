"""`python -m bot ...` as an operator runs it, in a subprocess, against SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, PROJECT_ROOT, Settings, resolve_database_url

ROOT = Path(__file__).resolve().parents[2]


def run_bot(database_url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def import_demo(database_url: str) -> subprocess.CompletedProcess:
    return run_bot(database_url, "import-placements", "demo/placements.csv", "--creditors", "demo/creditors.yml")


def test_help_lists_the_commands(tmp_path):
    result = run_bot(f"sqlite:///{tmp_path / 'unused.db'}", "--help")
    assert result.returncode == 0
    for command in ("import-placements", "account", "migrate"):
        assert command in result.stdout
    assert not (tmp_path / "unused.db").exists()  # --help touches no database


def test_import_then_reimport(database_url):
    first = import_demo(database_url)
    assert first.returncode == 0, first.stderr
    assert "accounts created: 9" in first.stdout and "items added: 26" in first.stdout
    again = import_demo(database_url)
    assert again.returncode == 0, again.stderr
    assert "accounts created: 0" in again.stdout and "items added: 0" in again.stdout
    assert "items unchanged: 26" in again.stdout


def test_bad_file_exits_1_listing_every_line(database_url, tmp_path):
    lines = (ROOT / "demo" / "placements.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("+14155550101", "4155550101")     # line 3
    lines[5] = lines[5].replace("2026-02-01", "2026-13-01")       # line 6
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_bot(database_url, "import-placements", str(bad), "--creditors", "demo/creditors.yml")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert errors == [
        "line 3: phone: '4155550101' is not an E.164 phone number like +14155550101",
        "line 6: item_date: '2026-13-01' is not a real calendar date",
    ]
    assert "nothing imported" in result.stderr
    assert run_bot(database_url, "account", "BW-10001", "--json").returncode == 1  # nothing half-imported


def test_missing_file(database_url, tmp_path):
    result = run_bot(database_url, "import-placements", str(tmp_path / "nope.csv"), "--creditors",
                     "demo/creditors.yml")
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_account_json(database_url):
    assert import_demo(database_url).returncode == 0
    result = run_bot(database_url, "account", "BW-10001", "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view == {"account_ref": "BW-10001", "creditor_id": "brightwork", "currency": "USD",
                    "balance_cents": 77500, "status": "open", "holds": [], "disputes": [], "plans": [],
                    "payments": [], "promises": []}


def test_account_text_and_unknown_ref(database_url):
    assert import_demo(database_url).returncode == 0
    text = run_bot(database_url, "account", "chp30002")
    assert text.returncode == 0 and "CHP-30002" in text.stdout and "USD 5431.40" in text.stdout
    unknown = run_bot(database_url, "account", "XX-00000", "--json")
    assert unknown.returncode == 1
    assert unknown.stdout == "" and "unknown account reference: XX-00000" in unknown.stderr


def test_migrate(database_url):
    result = run_bot(database_url, "migrate")
    assert result.returncode == 0, result.stderr
    from bot.ledger.migrations import head_revision

    assert f"revision {head_revision()}" in result.stdout
    assert run_bot(database_url, "migrate").returncode == 0


def test_relative_sqlite_url_resolves_against_the_project_root(tmp_path):
    """Started from another folder, the CLI still finds the project's ledger file."""
    settings = Settings.from_env({})
    assert settings.database_url == f"sqlite:///{(PROJECT_ROOT / 'var' / 'ledger.db').as_posix()}"
    assert DEFAULT_DATABASE_URL == "sqlite:///var/ledger.db"
    assert resolve_database_url("sqlite:///x/y.db", tmp_path) == f"sqlite:///{tmp_path}/x/y.db"
    assert resolve_database_url(f"sqlite:///{tmp_path}/a.db") == f"sqlite:///{tmp_path}/a.db"
    assert resolve_database_url("sqlite://") == "sqlite://"
    assert resolve_database_url("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"RASA_PORT": "abc"}, "RASA_PORT must be a port number"),  # not a number
        ({"BACKEND_PORT": "70000"}, "BACKEND_PORT must be a port number"),  # out of range
    ],
)
def test_bad_ports_are_named(env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_settings_from_env():
    settings = Settings.from_env({"RASA_PORT": "15005", "ACTIONS_PORT": "15055", "BACKEND_PORT": "18000",
                                  "AGENT_API_TOKEN": "secret-token", "DATABASE_URL": "postgresql://x@h/db"})
    assert (settings.rasa_port, settings.actions_port, settings.backend_port) == (15005, 15055, 18000)
    assert settings.rasa_public_url == "http://localhost:15005"
    assert settings.database_url == "postgresql://x@h/db"
    assert "secret-token" not in repr(settings)


def test_run_due_sends_a_reminder_that_quiet_hours_delayed(database_url, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from bot.bootstrap import make_engine
    from bot.ledger.messaging import OutboundRecord, SqlMessaging
    from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioServer

    assert import_demo(database_url).returncode == 0
    night = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)  # 6:00 in Los Angeles, Maya's zone
    eight = night + timedelta(hours=2)
    engine = make_engine(database_url)
    SqlMessaging(engine).log_attempt(OutboundRecord(
        purpose="payment_reminder", proactive=True, channel="sms", address="+14155550101",
        response="utter_payment_reminder", status="delayed", reason="quiet_hours", body="(rendered at 6:00)",
        attempted_at=night, consumer_id=1, account_ref="BW-10001", message_key="payment_reminder:BW-10001:2026-11-24",
        not_before=eight))
    engine.dispose()
    twilio = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM": "+15005550006"}
    with FakeTwilioServer() as server:
        for name, value in {**twilio, "TWILIO_API_BASE": server.url}.items():
            monkeypatch.setenv(name, value)
        early = run_bot(database_url, "run-due", "--at", (eight - timedelta(minutes=1)).isoformat())
        assert early.returncode == 0, early.stderr
        assert server.messages() == []
        due = run_bot(database_url, "run-due", "--at", (eight + timedelta(minutes=1)).isoformat())
        assert due.returncode == 0, due.stderr
        assert "delayed reminders: sent=1" in due.stdout
        [text] = server.messages("+14155550101")
        assert text.body.startswith("Hi Maya, this is Resolve with a reminder about your account.")
    log = json.loads(run_bot(database_url, "outbound-log", "BW-10001", "--json").stdout)
    assert [(a["status"], a["reason"], a["message_key"]) for a in log] == [
        ("delayed", "quiet_hours", "payment_reminder:BW-10001:2026-11-24"),
        ("sent", "allowed", "payment_reminder:BW-10001:2026-11-24")]
