"""Two Rasa servers on the scaled-out configuration, behind the local load balancer.

`python -m bot up --instances 2` with the ledger and the tracker store on PostgreSQL, the atomic lock
store on Redis and the communications record fed through RabbitMQ. Conversations are driven
concurrently through the balancer, which alternates between the servers, so the messages of one
burst land on both. What is checked is read back from PostgreSQL.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest
from sqlalchemy import create_engine, text

from tests.scaleout.conftest import RABBITMQ_URL, require

pytestmark = [pytest.mark.scaleout, pytest.mark.e2e]  # starts a stack: not in `make test-fast`

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Beside the e2e stack's ports of this checkout (E2E_PORT_BASE + 5, 55, 3000): + 25..27, 75, 3020.
BASE = int(os.environ.get("E2E_PORT_BASE", "15000")) + 20
PORTS = {"RASA_PORT": str(BASE + 5), "ACTIONS_PORT": str(BASE + 55), "BACKEND_PORT": str(BASE + 3000)}
MAYA = {"phone": "+14155550101", "dob": "3/4/85", "zip": "94110"}
STARTUP_SECONDS = 600


@dataclass
class ScaledStack:
    url: str
    tracker_db: str
    ledger_db: str
    log: Path
    token: str

    def send(self, sender: str, message: str) -> List[str]:
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as reply:
            return [m.get("text", "") for m in json.loads(reply.read())]

    def tracker_rows(self, sender: str) -> List[dict]:
        engine = create_engine(self.tracker_db)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
                                      {"s": sender}).all()
        engine.dispose()
        return [json.loads(row.data) for row in rows]


def _database(admin, name: str) -> str:
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    require("postgres", "redis", "rabbitmq")
    suffix = uuid.uuid4().hex[:10]
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    ledger_db, tracker_db = _database(admin, f"ledger_{suffix}"), _database(admin, f"tracker_{suffix}")
    secret = f"scaleout-{suffix}"
    env = dict(os.environ, **PORTS, DATABASE_URL=ledger_db, TRACKER_STORE_URL=tracker_db, SECRET_KEY=secret,
               LOCK_STORE_URL="redis://127.0.0.1:6379/14",
               EVENT_BROKER_URL=f"{RABBITMQ_URL}?queue=events_{suffix}&exchange=exchange_{suffix}",
               PAYMENTS_SCHEDULER_SECONDS="0", PYTHONUNBUFFERED="1", STARTUP_TIMEOUT_SECONDS=str(STARTUP_SECONDS))
    subprocess.run([sys.executable, "-m", "bot", "import-placements", "demo/placements.csv", "--creditors",
                    "demo/creditors.yml"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path_factory.mktemp("scaled") / "up.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot", "up", "--instances", "2"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    from bot.payments.wiring import derive_rasa_api_token

    stack = ScaledStack(f"http://127.0.0.1:{PORTS['RASA_PORT']}", tracker_db, ledger_db, log,
                        derive_rasa_api_token(secret))
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "The assistant is running" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the scaled-out stack did not start:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        _drop_queue(f"events_{suffix}", f"exchange_{suffix}")
        with admin.connect() as connection:
            for name in (f"ledger_{suffix}", f"tracker_{suffix}"):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _drop_queue(queue: str, exchange: str) -> None:
    import asyncio

    import aio_pika

    async def drop():
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)
            await channel.exchange_delete(exchange)

    asyncio.run(drop())


def burst(stack: ScaledStack, sender: str, messages: List[str]) -> Dict[str, List[str]]:
    """All messages at once, each on its own connection; the replies each one got."""
    start = threading.Barrier(len(messages))

    def one(message: str) -> List[str]:
        start.wait()
        return stack.send(sender, message)

    with ThreadPoolExecutor(len(messages)) as pool:
        return dict(zip(messages, pool.map(one, messages)))


def turns(rows: List[dict]) -> List[tuple]:
    """(user text, the bot texts that followed it before the next user message) in tracker order."""
    result: List[tuple] = []
    for row in rows:
        if row["event"] == "user":
            result.append((row["text"], []))
        elif row["event"] == "bot" and result and row.get("text"):
            result[-1][1].append(row["text"])
    return result


MESSAGES = ["hello", "what can you do?", "who are you?", "are you a bot?", "thanks"]


def assert_each_message_once_in_order(stack: ScaledStack, sender: str, replies: Dict[str, List[str]]) -> None:
    rows = stack.tracker_rows(sender)
    recorded = turns(rows)
    assert recorded[0][0] == "/session_start"
    assert sorted(text for text, _ in recorded[1:]) == sorted(replies)  # none lost, none twice
    # Turns never interleave: each reply is exactly what the tracker holds after that message.
    for message, said in recorded[1:]:
        assert said == replies[message], f"{message!r}: replied {replies[message]} but the tracker has {said}"
    listens = [r for r in rows if r["event"] == "action" and r.get("name") == "action_listen"]
    assert len(listens) == len(recorded) + 1  # one per turn, plus the session start's


def test_bursts_of_five_from_one_sender_across_two_servers_lose_nothing(scaled):
    sender = f"+1555{uuid.uuid4().int % 10**7:07d}"
    replies = burst(scaled, sender, ["/session_start"])
    started = time.perf_counter()
    replies = burst(scaled, sender, MESSAGES)
    print(f"\nburst of 5 from one sender through 2 Rasa servers: {time.perf_counter() - started:.2f} s")
    assert all(replies.values())
    assert_each_message_once_in_order(scaled, sender, replies)


def test_concurrent_conversations_with_bursts_lose_nothing(scaled):
    senders = [f"+1556{uuid.uuid4().int % 10**7:07d}" for _ in range(6)]
    with ThreadPoolExecutor(len(senders)) as pool:
        list(pool.map(lambda s: burst(scaled, s, ["/session_start"]), senders))
        started = time.perf_counter()
        results = list(pool.map(lambda s: burst(scaled, s, MESSAGES), senders))
    print(f"\n{len(senders)} conversations x burst of 5 at once: {time.perf_counter() - started:.2f} s")
    for sender, replies in zip(senders, results):
        assert_each_message_once_in_order(scaled, sender, replies)
    engine = create_engine(scaled.tracker_db)
    with engine.connect() as connection:
        counted = connection.execute(
            text("SELECT count(*) FROM events WHERE type_name = 'user' AND sender_id = ANY(:s)"),
            {"s": senders}).scalar()
    engine.dispose()
    assert counted == len(senders) * (len(MESSAGES) + 1)


def test_a_verification_leaves_no_birth_date_or_zip_in_postgres_and_the_record_comes_through_rabbitmq(scaled):
    sender = MAYA["phone"]
    scaled.send(sender, "/session_start")
    scaled.send(sender, "how much do i owe")
    scaled.send(sender, MAYA["dob"])
    verified = scaled.send(sender, MAYA["zip"])
    assert any("$" in reply for reply in verified), verified  # verified: the balance is told
    stored = json.dumps(scaled.tracker_rows(sender))
    for secret in (MAYA["dob"], "1985-03-04", MAYA["zip"]):
        assert secret not in stored
    engine = create_engine(scaled.ledger_db)
    deadline = time.monotonic() + 30
    bodies: List[str] = []
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            bodies = [row.body for row in connection.execute(
                text("SELECT body FROM communications WHERE conversation_id = :s ORDER BY id"), {"s": sender})]
        if any("$" in body for body in bodies):
            break
        time.sleep(0.5)
    engine.dispose()
    assert "how much do i owe" in bodies and any("$" in body for body in bodies)
    assert not any(MAYA["dob"] in body or MAYA["zip"] in body for body in bodies)


def test_health_reports_the_tracker_store(scaled):
    with urllib.request.urlopen(f"{scaled.url}/webhooks/health/", timeout=10) as reply:
        assert reply.status == 200 and json.loads(reply.read())["tracker_store"] == "ok"


def test_rasa_http_api_refuses_a_caller_without_the_token(scaled):
    tracker_url = f"{scaled.url}/conversations/{MAYA['phone']}/tracker"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tracker_url, timeout=10)
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{tracker_url}?token={scaled.token}", timeout=10) as reply:
        assert reply.status == 200


def test_the_action_server_is_reachable_from_loopback_only(scaled):
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(OSError):
        socket.create_connection((address, int(PORTS["ACTIONS_PORT"])), timeout=3).close()


def _outward_address():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this picks the outward interface
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address
