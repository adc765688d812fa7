"""`python -m bot lock-race`: messages lost per burst with Rasa's RedisLockStore and with ours.

Two "servers" (threads, each with its own event loop and lock store, as two Rasa processes have)
take bursts of simultaneous messages for the same conversations. Each turn does what Rasa does with
a tracker: read the conversation from Redis, work a little, write it back. When two turns of one
conversation run at once, one write overwrites the other: a lost message. Prints the count per store.
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, List

import redis
import redis.asyncio
from rasa.core.lock_store import LockError

TURN_SECONDS = 0.01


@dataclass
class RaceResult:
    store: str
    conversations: int
    messages: int
    lost: int
    refused: int
    conversations_with_loss: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.store:>14}: {self.lost} of {self.messages} messages lost ({self.refused} of them refused "
                f"with a LockError, the rest overwritten) in {self.conversations_with_loss} of {self.conversations} "
                f"conversations ({self.seconds:.1f} s)")


def stock_store(url: str, prefix: str):
    from rasa.core.lock_store import RedisLockStore

    connection = redis.Redis.from_url(url).connection_pool.connection_kwargs
    return RedisLockStore(host=connection.get("host", "127.0.0.1"), port=connection.get("port", 6379),
                          db=connection.get("db", 0), key_prefix=prefix.replace(":", "").replace("-", ""))


def atomic_store(url: str, prefix: str):
    from bot.adapters.lock_store import AtomicRedisLockStore

    return AtomicRedisLockStore(url=url, key_prefix=prefix)


STORES = {"RedisLockStore": stock_store, "atomic": atomic_store}


async def _server(store, url: str, prefix: str, work: List[tuple]) -> None:
    client = redis.asyncio.Redis.from_url(url)

    async def turn(conversation: str) -> None:
        try:
            async with store.lock(conversation):
                key = f"{prefix}tracker:{conversation}"
                seen = int(await client.get(key) or 0)
                await asyncio.sleep(TURN_SECONDS)
                await client.set(key, seen + 1)
        except LockError:  # Rasa answers such a message with HTTP 500: lost as well
            await client.incr(f"{prefix}refused")

    for delay, conversation in work:
        await asyncio.sleep(delay)
        asyncio.ensure_future(turn(conversation))
    while len(asyncio.all_tasks()) > 1 + _background(store):
        await asyncio.sleep(0.05)
    if hasattr(store, "close"):
        await store.close()
    await client.close()


def _background(store) -> int:
    return 1 if getattr(store, "_listener", None) else 0


def race(store_name: str, url: str, bursts: int = 100, burst_size: int = 5, servers: int = 2) -> RaceResult:
    """`bursts` conversations, each getting `burst_size` messages at once spread over `servers`."""
    make: Callable = STORES[store_name]
    prefix = f"race-{uuid.uuid4().hex[:8]}:"
    conversations = [f"c{n}" for n in range(bursts)]
    plans: List[List[tuple]] = [[] for _ in range(servers)]
    for conversation in conversations:
        for message in range(burst_size):
            plans[message % servers].append((0.0, conversation))
        plans[0][-1] = (0.02, plans[0][-1][1])  # the next burst a moment later
    started = time.perf_counter()
    threads = [threading.Thread(target=asyncio.run, args=(_server(make(url, prefix), url, prefix, plan),))
               for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    client = redis.Redis.from_url(url)
    counts = [int(client.get(f"{prefix}tracker:{c}") or 0) for c in conversations]
    refused = int(client.get(f"{prefix}refused") or 0)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    for key in client.scan_iter(f"{prefix.replace(':', '').replace('-', '')}:lock:*"):
        client.delete(key)
    client.close()
    lost = [burst_size - count for count in counts]
    return RaceResult(store_name, bursts, bursts * burst_size, sum(lost), refused, sum(1 for n in lost if n), seconds)
