"""The scaled-out servers on 127.0.0.1: Redis (6379), PostgreSQL (5432), RabbitMQ (5672).

Tests marked `scaleout` are skipped when a server they need does not answer (CI runs all of them).
"""
from __future__ import annotations

import os
import socket
import uuid

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


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
