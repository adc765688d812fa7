"""The atomic lock store against the real Redis, and the race it removes from Rasa's RedisLockStore."""
from __future__ import annotations

import asyncio
import time

import pytest
import redis as sync_redis
from rasa.core.lock_store import LockError, RedisLockStore

from bot.adapters.lock_store import AtomicRedisLockStore
from tests.scaleout.conftest import PORT_BASE, REDIS_URL, DelayingProxy, private_redis

pytestmark = pytest.mark.scaleout


def two_servers(prefix: str, **options):
    """Two lock stores on one Redis, as two Rasa servers have."""
    return [AtomicRedisLockStore(url=REDIS_URL, key_prefix=prefix, **options) for _ in range(2)]


async def close_all(stores) -> None:
    for store in stores:
        await store.close()


async def burst(stores, conversation: str, size: int, record: list, work_seconds: float = 0.02) -> None:
    """`size` messages of one conversation at once, alternating between the servers.

    Each turn reads the conversation, works a little and writes it back, as Rasa does with a tracker:
    with two turns inside the lock at once, one of the writes would be lost.
    """
    state = {"events": 0, "inside": 0, "most_inside": 0}
    for store in stores:  # connected beforehand: arrival order is then ticket order
        await store._connect()
        await store._redis.ping()

    async def turn(number: int) -> None:
        async with stores[number % len(stores)].lock(conversation):
            state["inside"] += 1
            state["most_inside"] = max(state["most_inside"], state["inside"])
            seen = state["events"]
            await asyncio.sleep(work_seconds)
            state["events"] = seen + 1
            record.append(number)
            state["inside"] -= 1

    tasks = []
    for number in range(size):
        tasks.append(asyncio.create_task(turn(number)))
        await asyncio.sleep(0.02)  # arrival order = ticket order, as messages queue in one conversation
    await asyncio.gather(*tasks)
    assert (state["events"], state["inside"], state["most_inside"]) == (size, 0, 1)  # once each, one at a time


async def test_a_burst_across_two_servers_is_processed_once_one_at_a_time(redis_prefix):
    stores = two_servers(redis_prefix)
    try:
        order: list = []
        started = time.perf_counter()
        await burst(stores, "burst-1", 5, order)
        print(f"\nburst of 5 through two lock stores: {time.perf_counter() - started:.3f} s")
        assert sorted(order) == [0, 1, 2, 3, 4]
    finally:
        await close_all(stores)


async def test_many_conversations_at_once_do_not_block_each_other(redis_prefix):
    stores = two_servers(redis_prefix)
    try:
        orders = {f"conversation-{n}": [] for n in range(20)}
        await asyncio.gather(*(burst(stores, name, 4, order) for name, order in orders.items()))
        assert all(sorted(order) == [0, 1, 2, 3] for order in orders.values())
    finally:
        await close_all(stores)


async def test_a_release_wakes_the_next_waiter_without_polling(redis_prefix):
    # Polling only every 60 s: the burst can finish in time only if releases wake the waiters.
    stores = two_servers(redis_prefix, poll_seconds=60)
    try:
        order: list = []
        await asyncio.wait_for(burst(stores, "woken", 5, order), timeout=20)
        assert sorted(order) == [0, 1, 2, 3, 4]
    finally:
        await close_all(stores)


async def test_a_crashed_holder_loses_the_conversation_when_its_ticket_expires(redis_prefix):
    crashed, survivor = two_servers(redis_prefix, ticket_ttl=0.6, poll_seconds=0.1)
    try:
        await crashed._connect()
        await crashed._issue("stuck")  # took the conversation, then the process died: no release, no refresh
        async with survivor.lock("stuck"):
            pass
    finally:
        await close_all([crashed, survivor])


async def test_a_long_turn_keeps_its_lock_past_the_ticket_lifetime(redis_prefix):
    first, second = two_servers(redis_prefix, ticket_ttl=0.6, poll_seconds=0.1)
    try:
        inside = []

        async def long_turn():
            async with first.lock("slow"):
                inside.append("first in")
                await asyncio.sleep(1.5)  # longer than the ticket ttl: the holder's heartbeat keeps it
                inside.append("first out")

        async def next_turn():
            await asyncio.sleep(0.1)
            async with second.lock("slow"):
                inside.append("second in")

        await asyncio.gather(long_turn(), next_turn())
        assert inside == ["first in", "first out", "second in"]
    finally:
        await close_all([first, second])


async def test_a_waiter_whose_ticket_redis_lost_queues_again(redis_prefix):
    holder, waiter = two_servers(redis_prefix, poll_seconds=0.1)
    try:
        entered = []

        async def hold():
            async with holder.lock("flushed"):
                await asyncio.sleep(0.3)
                client = sync_redis.Redis.from_url(REDIS_URL)
                client.delete(*client.keys(f"{redis_prefix}flushed:*"))  # as after a Redis restart
                client.close()
                await asyncio.sleep(0.2)
                entered.append("holder done")

        async def wait():
            await asyncio.sleep(0.1)
            async with waiter.lock("flushed"):
                entered.append("waiter")

        await asyncio.gather(hold(), wait())
        assert "waiter" in entered
    finally:
        await close_all([holder, waiter])


async def test_redis_restarted_a_turn_meanwhile_is_refused_and_the_next_is_served_at_once(tmp_path):
    redis_server = private_redis(PORT_BASE + 31, tmp_path)
    proxy = DelayingProxy(PORT_BASE + 34, redis_server.port).start()  # as a Redis behind a proxy: connections
    first, second = (AtomicRedisLockStore(url=proxy.url, poll_seconds=0.1) for _ in range(2))  # are accepted, then closed
    try:
        async with second.lock("restart"):  # both servers are connected
            pass
        async with first.lock("restart"):
            redis_server.kill()  # the turn holding the lock finishes; its release is only logged
        with pytest.raises(LockError):  # Rasa's channels turn this into "try again in a minute"
            async with second.lock("restart"):
                pass
        redis_server.start()  # empty: tickets start over
        for store in (first, second):  # their dropped connections are replaced on the first call
            async with store.lock("restart"):
                pass
    finally:
        await close_all([first, second])
        proxy.stop()
        redis_server.kill()


def test_rasa_redis_lock_store_hands_one_ticket_to_two_servers(redis_prefix):
    """The race in Rasa 3.6, step by step: read, read, write, write. Both servers now hold the lock."""
    prefix = redis_prefix.rstrip(":").replace("-", "")
    servers = [RedisLockStore(host="127.0.0.1", port=6379, db=15, key_prefix=prefix) for _ in range(2)]
    locks = [server.get_or_create_lock("race") for server in servers]  # both read "no tickets yet"
    tickets = [lock.issue_ticket(60) for lock in locks]
    for server, lock in zip(servers, locks):
        server.save_lock(lock)  # the second write overwrites the first
    current = servers[0].get_lock("race")
    assert tickets == [0, 0]
    assert not current.is_locked(tickets[0]) and not current.is_locked(tickets[1])  # two turns at once


async def test_atomic_tickets_are_distinct_and_only_one_is_first(redis_prefix):
    """The same interleaving cannot happen here: issuing is one INCR inside one script."""
    stores = two_servers(redis_prefix)
    try:
        for store in stores:
            await store._connect()
        tickets = await asyncio.gather(*(store._issue("race") for store in stores))
        states = [await store._check("race", ticket) for store, ticket in zip(stores, tickets)]
        assert sorted(tickets) == [1, 2]
        assert sorted(states) == [0, 1]
    finally:
        await close_all(stores)


async def test_waiting_messages_are_served_first_come_first_served(redis_prefix):
    stores = two_servers(redis_prefix)
    client = sync_redis.Redis.from_url(REDIS_URL)
    try:
        served: list = []
        holding = asyncio.Event()

        async def turn(name: str, store) -> None:
            async with store.lock("fifo"):
                served.append(name)
                if name == "first":
                    holding.set()
                    await asyncio.sleep(0.5)

        tasks = [asyncio.create_task(turn("first", stores[0]))]
        await holding.wait()
        for number, name in enumerate(["second", "third", "fourth"], start=2):
            tasks.append(asyncio.create_task(turn(name, stores[number % 2])))
            while client.zcard(f"{redis_prefix}fifo:queue") < number:  # its ticket is issued: the next may come
                await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
        assert served == ["first", "second", "third", "fourth"]
    finally:
        client.close()
        await close_all(stores)
