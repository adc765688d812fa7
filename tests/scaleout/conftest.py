"""The scaled-out servers on 127.0.0.1: Redis (6379), PostgreSQL (5432), RabbitMQ (5672).

Tests marked `scaleout` are skipped when a server they need does not answer (CI runs all of them).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Optional

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "15000"))


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require(*servers: str) -> None:
    ports = {"redis": 6379, "postgres": 5432, "rabbitmq": 5672}
    missing = [name for name in servers if not reachable("127.0.0.1", ports[name])]
    if missing:
        pytest.skip(f"not reachable on 127.0.0.1: {', '.join(missing)}")


@pytest.fixture
def redis_prefix():
    """A key prefix of its own in Redis db 15, deleted afterwards."""
    require("redis")
    import redis

    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    # Rasa's own store takes alphanumeric prefixes only: the tests pass it the prefix without "-" and ":".
    keys = list(client.scan_iter(f"{prefix}*")) + list(client.scan_iter(f"{prefix.rstrip(':').replace('-', '')}:*"))
    if keys:
        client.delete(*keys)
    client.close()


class RedisServer:
    """A redis-server of the test's own (never the shared one), to kill and restart mid-conversation.

    No persistence: a restart comes back empty, as a Redis without a disk does.
    """

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not reachable("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def private_redis(port: int, directory: Path) -> RedisServer:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    return RedisServer(port, directory).start()


class DelayingProxy:
    """A TCP proxy in front of Redis that holds each request `delay` seconds, as a Redis a network hop away.

    With no delay it is transparent. A delay widens the window between a read and a write of Rasa's
    stock `RedisLockStore`, which is how two servers come to hold one conversation at once.
    """

    def __init__(self, port: int, target_port: int, db: int = 0) -> None:
        self.port, self.target_port = port, target_port
        self.url = f"redis://127.0.0.1:{port}/{db}"
        self.delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "DelayingProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(asyncio.start_server(self._client, "127.0.0.1", self.port),
                                         self._loop).result(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:  # Redis is down: the client sees its connection closed
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, upstream_writer, delayed=True),
                             self._pipe(upstream_reader, writer, delayed=False), return_exceptions=True)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, delayed: bool) -> None:
        try:
            while data := await source.read(65536):
                if delayed and self.delay:
                    await asyncio.sleep(self.delay)
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()
