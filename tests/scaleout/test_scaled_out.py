"""Two Rasa servers on the scaled-out configuration, behind the local load balancer.

`python -m bot up --instances 2` with the ledger and the tracker store on PostgreSQL, the atomic lock
store on Redis and the communications record fed through RabbitMQ. Conversations are driven
concurrently through the balancer, which alternates between the servers, so the messages of one
burst land on both. What is checked is read back from PostgreSQL. The lock store's Redis is one of
this module's own, so a test can restart it; the last test kills a Rasa server.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, TypeVar

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.channels.test_webchat import Page
from tests.scaleout.conftest import PORT_BASE, RABBITMQ_URL, DelayingProxy, RedisServer, require
from tests.scaleout.test_tracker_store import TRY_AGAIN_EN

pytestmark = [pytest.mark.scaleout, pytest.mark.e2e]  # starts a stack: not in `make test-fast`

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Beside the e2e stack's ports of this checkout (E2E_PORT_BASE + 5, 55, 3000): + 25..27, 30 and 32 (Redis and
# the proxy in front of it), 75, 3020.
BASE = PORT_BASE + 20
MAYA = {"phone": "+14155550101", "dob": "3/4/85", "zip": "94110"}
STARTUP_SECONDS = 600
ANSWER_SECONDS = 30  # Twilio gives a webhook 15 s
T = TypeVar("T")


@dataclass
class ScaledStack:
    url: str
    tracker_db: str
    ledger_db: str
    log: Path
    token: str
    secret: str
    lock_url: str

    def post(self, sender: str, message: str, timeout: float = 120) -> tuple:
        """(HTTP status, the reply texts or the error) for one message through the balancer."""
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return reply.status, [m.get("text", "") for m in json.loads(reply.read())]
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()).get("error")

    def answers_in_time(self, sender: str, message: str) -> bool:
        """Whether the message got its replies (HTTP 200) within ANSWER_SECONDS."""
        try:
            return self.post(sender, message, timeout=ANSWER_SECONDS)[0] == 200
        except TimeoutError:
            return False

    def send(self, sender: str, message: str) -> List[str]:
        status, replies = self.post(sender, message)
        assert status == 200, f"{message!r}: HTTP {status} {replies}"
        return replies

    def tracker_rows(self, sender: str) -> List[dict]:
        engine = create_engine(self.tracker_db)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
                                      {"s": sender}).all()
        engine.dispose()
        return [json.loads(row.data) for row in rows]

    def communications(self, sender: str) -> List[str]:
        """The communications record's bodies of a conversation (written by the events consumer)."""
        engine = create_engine(self.ledger_db)
        with engine.connect() as connection:
            bodies = [row.body for row in connection.execute(
                text("SELECT body FROM communications WHERE conversation_id = :s ORDER BY id"), {"s": sender})]
        engine.dispose()
        return bodies

    def pid(self, service: str) -> int:
        """The process id `up` printed for a service (the latest, after a restart)."""
        return int(re.findall(rf"started {service} \(pid (\d+)\)", self.log.read_text())[-1])


def eventually(read: Callable[[], list], until: Callable[[list], bool], seconds: float = 30) -> list:
    """What `read` returns once `until` holds for it, or after `seconds` (written after the reply)."""
    deadline = time.monotonic() + seconds
    found = read()
    while not until(found) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = read()
    return found


def _database(admin, name: str) -> str:
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def lock_redis(tmp_path_factory):
    """The lock store's Redis, this module's own; None without redis-server (then the shared one, db 14)."""
    if shutil.which("redis-server") is None:
        yield None
        return
    server = RedisServer(BASE + 10, tmp_path_factory.mktemp("redis")).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def lock_proxy(lock_redis):
    """What the Rasa servers reach Redis through: transparent until a test delays it."""
    proxy = (DelayingProxy(BASE + 12, lock_redis.port) if lock_redis else DelayingProxy(BASE + 12, 6379, db=14))
    yield proxy.start()
    proxy.stop()


@pytest.fixture(scope="module")
def scaled(tmp_path_factory, lock_proxy):
    with running_stack(tmp_path_factory.mktemp("scaled"), BASE, lock_proxy.url) as stack:
        yield stack


def ports(base: int) -> Dict[str, str]:
    return {"RASA_PORT": str(base + 5), "ACTIONS_PORT": str(base + 55), "BACKEND_PORT": str(base + 3000)}


@contextlib.contextmanager
def running_stack(directory: Path, base: int, lock_url: str, lock_store: str = "atomic") -> Iterator[ScaledStack]:
    """`python -m bot up --instances 2` on databases and a RabbitMQ queue of its own, removed afterwards."""
    require("postgres", "redis", "rabbitmq")
    suffix = uuid.uuid4().hex[:10]
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    ledger_db, tracker_db = _database(admin, f"ledger_{suffix}"), _database(admin, f"tracker_{suffix}")
    secret = f"scaleout-{suffix}"
    env = dict(os.environ, **ports(base), DATABASE_URL=ledger_db, TRACKER_STORE_URL=tracker_db, SECRET_KEY=secret,
               LOCK_STORE_URL=lock_url, LOCK_STORE=lock_store,
               EVENT_BROKER_URL=f"{RABBITMQ_URL}?queue=events_{suffix}&exchange=exchange_{suffix}",
               PAYMENTS_SCHEDULER_SECONDS="0", PYTHONUNBUFFERED="1", STARTUP_TIMEOUT_SECONDS=str(STARTUP_SECONDS))
    subprocess.run([sys.executable, "-m", "bot", "import-placements", "demo/placements.csv", "--creditors",
                    "demo/creditors.yml"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = directory / "up.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot", "up", "--instances", "2"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    from bot.payments.wiring import derive_rasa_api_token

    stack = ScaledStack(f"http://127.0.0.1:{base + 5}", tracker_db, ledger_db, log, derive_rasa_api_token(secret),
                        secret, lock_url)
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
    return at_once(messages, lambda message: stack.send(sender, message))


def at_once(messages: List[str], send: Callable[[str], T]) -> Dict[str, T]:
    """`send` called for every message at the same moment, each in its own thread; what each returned."""
    start = threading.Barrier(len(messages))

    def one(message: str) -> T:
        start.wait()
        return send(message)

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


def assert_each_message_once_in_order(stack: ScaledStack, sender: str, replies: Dict[str, List[str]],
                                      unanswered: tuple = ()) -> None:
    """Each answered message is in the tracker once, with the replies it got; `unanswered` ones at most once."""
    rows = stack.tracker_rows(sender)
    recorded = turns(rows)
    assert recorded[0][0] == "/session_start"
    for message in unanswered:  # the consumer was told it may not have been handled
        assert [said for said, _ in recorded].count(message) <= 1
    answered = [(said, bot) for said, bot in recorded[1:] if said not in unanswered]
    assert sorted(said for said, _ in answered) == sorted(replies)  # none lost, none twice
    # Turns never interleave: each reply is exactly what the tracker holds after that message.
    for message, said in answered:
        assert said == replies[message], f"{message!r}: replied {replies[message]} but the tracker has {said}"
    listens = [r for r in rows if r["event"] == "action" and r.get("name") == "action_listen"]
    assert len(listens) == len(recorded) + 1  # one per turn, plus the session start's


def new_sender() -> str:
    return f"+1557{uuid.uuid4().int % 10**7:07d}"


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
    bodies = eventually(lambda: scaled.communications(sender), until=lambda bodies: any("$" in b for b in bodies))
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
        socket.create_connection((address, BASE + 55), timeout=3).close()


def _outward_address():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this picks the outward interface
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_redis_restarted_mid_conversation_refuses_turns_kindly_meanwhile_and_loses_nothing(scaled, lock_redis):
    if lock_redis is None:
        pytest.skip("redis-server is not installed (the shared Redis is never restarted)")
    sender = new_sender()
    scaled.send(sender, "/session_start")
    replies = {"hello": scaled.send(sender, "hello")}
    lock_redis.kill()
    told_while_down = scaled.post(sender, "what can you do?")
    lock_redis.start()  # empty: every lock and ticket is gone
    replies.update(burst(scaled, sender, MESSAGES[2:]))  # across both servers, at once, right after
    assert told_while_down == (200, [TRY_AGAIN_EN])
    assert_each_message_once_in_order(scaled, sender, replies)  # the refused message was not processed
    assert_recorded_once(scaled, sender, replies)


def assert_recorded_once(stack: ScaledStack, sender: str, replies: Dict[str, List[str]]) -> None:
    """The communications record (through RabbitMQ) holds each answered message once, and its replies."""
    expected = sorted(list(replies) + [text for texts in replies.values() for text in texts])
    bodies = eventually(lambda: stack.communications(sender), until=lambda bodies: all(b in bodies for b in expected))
    assert sorted(b for b in bodies if b in expected) == expected


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_web_chat_over_socketio_through_the_balancer(scaled, transport):
    from bot.web.webchat_session import SessionSigner

    session_id, token = SessionSigner(scaled.secret).issue()  # what the backend's chat page hands the page
    chat = chat_over_websocket if transport == "websocket" else chat_over_polling
    confirmed, reply = await chat(scaled.url, token, f"http://localhost:{BASE + 3000}", "hello")
    assert confirmed == session_id and reply.get("text")
    said = eventually(lambda: [(row["event"], row.get("text")) for row in scaled.tracker_rows(session_id)],
                      until=lambda said: ("bot", reply["text"]) in said)  # saved once the turn ends
    assert ("user", "hello") in said and ("bot", reply["text"]) in said


async def chat_over_polling(url: str, token: str, origin: str, message: str) -> tuple:
    """(the session id the server confirmed, the first reply) through python-socketio's client."""
    page = Page(url, token, origin=origin)
    try:
        return await page.open(), await page.say(message)
    finally:
        await page.close()


async def chat_over_websocket(url: str, token: str, origin: str, message: str) -> tuple:
    """The same over a WebSocket, as chat.js connects first, in socket.io's wire format.

    (python-socketio's own WebSocket client needs a newer aiohttp than Rasa 3.6 allows.)
    """
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
                                      headers={"Origin": origin}) as ws:
            async def receive(event: str):
                while True:
                    packet = await asyncio.wait_for(ws.receive_str(), 30)
                    if packet == "2":  # engine.io ping
                        await ws.send_str("3")
                    elif packet.startswith("42") and json.loads(packet[2:])[0] == event:
                        return json.loads(packet[2:])[1]

            async def emit(event: str, data: dict) -> None:
                await ws.send_str("42" + json.dumps([event, data]))

            assert (await ws.receive_str()).startswith("0")  # engine.io open
            await ws.send_str("40" + json.dumps({"token": token}))  # socket.io connect, with the page's token
            assert (await ws.receive_str()).startswith("40")
            await emit("session_request", {"session_id": "chosen-by-the-page"})
            confirmed = await receive("session_confirm")
            await emit("user_uttered", {"message": message, "session_id": confirmed, "metadata": {}})
            return confirmed, await receive("bot_uttered")


# Redis a network hop away (each request held REDIS_DELAY_SECONDS): Rasa's stock RedisLockStore then
# hands one ticket to both servers in most bursts (tests/scaleout/test_stock_lock_store.py).
REDIS_DELAY_SECONDS = 0.03
RACE_CONVERSATIONS = 4


def race(stack: ScaledStack, proxy: DelayingProxy, conversations: int = RACE_CONVERSATIONS) -> tuple:
    """A burst of five from each of `conversations` senders through both servers: (lost, duplicated, unanswered).

    Unanswered: no HTTP 200 within ANSWER_SECONDS (a consumer on SMS would have given up by then).
    """
    senders = [new_sender() for _ in range(conversations)]
    for sender in senders:
        stack.send(sender, "/session_start")
    proxy.delay = REDIS_DELAY_SECONDS
    unanswered = 0
    try:
        for sender in senders:
            answered = at_once(MESSAGES, lambda message: stack.answers_in_time(sender, message))
            unanswered += sum(1 for ok in answered.values() if not ok)
    finally:
        proxy.delay = 0
    lost = duplicated = 0
    for sender in senders:
        said = Counter(message for message, _ in turns(stack.tracker_rows(sender)))
        lost += sum(1 for message in MESSAGES if said[message] == 0)
        duplicated += sum(said[message] - 1 for message in MESSAGES if said[message] > 1)
    print(f"\n{conversations} bursts of 5, Redis {REDIS_DELAY_SECONDS * 1000:.0f} ms away: "
          f"{lost} lost, {duplicated} duplicated, {unanswered} unanswered within {ANSWER_SECONDS} s")
    return lost, duplicated, unanswered


def test_bursts_with_redis_a_network_hop_away_lose_nothing(scaled, lock_proxy):
    assert race(scaled, lock_proxy) == (0, 0, 0)


# Last: it kills a Rasa server (`up` restarts it, which takes as long as a start-up).
def test_a_rasa_server_killed_mid_turn_its_message_is_reported_and_the_conversation_goes_on(scaled):
    sender = new_sender()
    scaled.send(sender, "/session_start")
    lock = redis.Redis.from_url(scaled.lock_url)
    with ThreadPoolExecutor(2) as pool:
        # Two messages at once: the balancer alternates, so one is on each server; one holds the lock.
        both = {message: pool.submit(scaled.post, sender, message) for message in ("hello", "thanks")}
        deadline = time.monotonic() + 60
        while lock.zcard(f"rasa-lock:{sender}:queue") < 2:  # both have their ticket
            assert time.monotonic() < deadline, "the two messages never queued"
            time.sleep(0.005)
        os.kill(scaled.pid("rasa-1"), signal.SIGKILL)
        told = {message: future.result() for message, future in both.items()}
    lock.close()
    killed = [message for message, (status, _) in told.items() if status == 502]
    answered = {message: replies for message, (status, replies) in told.items() if status == 200}
    assert len(killed) == 1 and len(answered) == 1, told
    assert "send it again" in told[killed[0]][1]
    # The killed server's ticket expires: the next message is served, not stuck behind it.
    answered["who are you?"] = scaled.send(sender, "who are you?")
    assert_each_message_once_in_order(scaled, sender, answered, unanswered=tuple(killed))
    assert "rasa-1 stopped (exit code -9)" in scaled.log.read_text()
