"""One running stack (Rasa server, action server, backend) shared by every end-to-end test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

from bot.bootstrap import make_engine
from bot.domain.money import Money
from bot.i18n import format_money
from bot.ledger.repository import SqlLedger
from bot.security import LinkSigner
from tests.e2e.twilio_stack import twilio_env
from tests.smtp_fake import SmtpServer
from tests.twilio_fakes import FakeTwilioServer

ROOT = Path(__file__).resolve().parents[2]
# Several checkouts can run their stacks side by side: E2E_PORT_BASE moves all three ports together.
_BASE = int(os.environ.get("E2E_PORT_BASE", "15000"))
PORTS = {"RASA_PORT": str(_BASE + 5), "ACTIONS_PORT": str(_BASE + 55), "BACKEND_PORT": str(_BASE + 3000)}
SECRET = "e2e-test-secret-key"
AGENT_API_TOKEN = "e2e-agent-api-token"
STARTUP_SECONDS = 600


@dataclass
class Stack:
    rasa_url: str
    backend_url: str
    ledger: SqlLedger
    log_path: Path
    env: dict
    twilio: Optional[FakeTwilioServer] = None  # Twilio's Messages API, faked locally: what the bot texted
    mail: Optional[SmtpServer] = None  # a local SMTP server (SMTP_URL): what the bot emailed

    def send(self, sender: str, text: str, metadata: dict | None = None) -> List[dict]:
        """One consumer message over the REST channel; the bot's replies in order."""
        body = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        request = urllib.request.Request(
            f"{self.rasa_url}/webhooks/rest/webhook", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read())

    def texts(self, sender: str, text: str, metadata: dict | None = None) -> List[str]:
        return [m.get("text", "") for m in self.send(sender, text, metadata)]

    def personal_link(self, account_ref: str) -> str:
        return f"{self.backend_url}/chat?t={LinkSigner(SECRET).sign(account_ref)}"

    def link_token(self, account_ref: str) -> str:
        return LinkSigner(SECRET).sign(account_ref)

    @staticmethod
    def format_money(money: Money, locale: str) -> str:
        return format_money(money, locale)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    workdir = tmp_path_factory.mktemp("stack")
    database_url = f"sqlite:///{workdir / 'ledger.db'}"
    twilio = FakeTwilioServer().__enter__()
    mail = SmtpServer().__enter__()
    env = dict(os.environ, **PORTS, DATABASE_URL=database_url, SECRET_KEY=SECRET, AGENT_API_TOKEN=AGENT_API_TOKEN,
               STARTUP_TIMEOUT_SECONDS=str(STARTUP_SECONDS),  # a loaded machine loads the model slowly
               TRACKER_STORE_URL=f"sqlite:///{workdir / 'tracker.db'}", PYTHONUNBUFFERED="1",
               SMTP_URL=mail.url, EMAIL_FROM="Resolve <codes@resolve.example>",
               **twilio_env(twilio, f"http://127.0.0.1:{PORTS['BACKEND_PORT']}"))
    subprocess.run(
        [sys.executable, "-m", "bot", "import-placements", "demo/placements.csv", "--creditors",
         "demo/creditors.yml"], cwd=ROOT, env=env, check=True, capture_output=True,
    )
    log_path = workdir / "stack.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot", "up"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    stack = Stack(f"http://127.0.0.1:{PORTS['RASA_PORT']}", f"http://127.0.0.1:{PORTS['BACKEND_PORT']}",
                  SqlLedger(make_engine(database_url)), log_path, env, twilio, mail)
    try:
        _wait_for(stack, process)
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)  # `up` stops its services, then exits
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        twilio.__exit__(None, None, None)
        mail.__exit__(None, None, None)


def _wait_for(stack: Stack, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the stack exited early:\n{stack.log_path.read_text()[-4000:]}")
        if "The assistant is running" in stack.log_path.read_text():
            return
        time.sleep(1)
    raise RuntimeError(f"the stack did not start:\n{stack.log_path.read_text()[-4000:]}")


@pytest.fixture
def sender() -> str:
    """A fresh web chat conversation id (not a phone number)."""
    return f"web-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def run_due(stack):
    """The scheduler as cron runs it (`python -m bot run-due`), at a chosen moment."""

    def run(at) -> str:
        done = subprocess.run([sys.executable, "-m", "bot", "run-due", "--at", at.isoformat()], cwd=ROOT,
                              env=stack.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run
