"""The single-server lock store: one turn per conversation at a time, in arrival order, with no polling."""
from __future__ import annotations

import asyncio

import pytest
from rasa.core.lock_store import LockError

from bot.adapters.local_lock_store import LocalLockStore


async def burst(store: LocalLockStore, conversation: str, size: int) -> list:
    """`size` messages of one conversation at once; each turn reads, works a little and writes back."""
    state = {"events": 0, "inside": 0, "most_inside": 0}
    served: list = []

    async def turn(number: int) -> None:
        async with store.lock(conversation):
            state["inside"] += 1
            state["most_inside"] = max(state["most_inside"], state["inside"])
            seen = state["events"]
            await asyncio.sleep(0.02)
            state["events"] = seen + 1
            served.append(number)
            state["inside"] -= 1

    await asyncio.gather(*(turn(number) for number in range(size)))
    assert (state["events"], state["most_inside"]) == (size, 1)  # every turn counted, never two at once
    return served


async def test_a_burst_is_served_once_each_in_arrival_order():
    assert await burst(LocalLockStore(), "burst", 5) == [0, 1, 2, 3, 4]


async def test_the_next_message_starts_when_the_last_ends_not_at_the_next_poll():
    # Rasa's in-memory store re-reads a lock once a second: four waiters would need about 4 s.
    await asyncio.wait_for(burst(LocalLockStore(), "prompt", 5), timeout=2)


async def test_conversations_do_not_wait_for_each_other():
    store = LocalLockStore()
    async with store.lock("busy"):
        async with store.lock("other"):
            pass


async def test_a_newcomer_does_not_overtake_a_waiter():
    store = LocalLockStore()
    served: list = []
    holding = asyncio.Event()

    async def turn(name: str) -> None:
        async with store.lock("fifo"):
            served.append(name)
            if name == "first":
                holding.set()
                await asyncio.sleep(0.05)

    first = asyncio.create_task(turn("first"))
    await holding.wait()
    second = asyncio.create_task(turn("second"))
    await asyncio.sleep(0)
    await asyncio.gather(first, second, turn("third"))
    assert served == ["first", "second", "third"]


async def test_a_waiter_gives_up_with_rasas_lock_error_after_the_lock_lifetime():
    store = LocalLockStore()
    async with store.lock("stuck"):
        with pytest.raises(LockError):
            async with store.lock("stuck", lock_lifetime=0.1):
                pass
    async with store.lock("stuck"):  # the holder finished: the conversation is free again
        pass


async def test_a_failed_turn_frees_the_conversation_and_the_store_forgets_idle_ones():
    store = LocalLockStore()
    with pytest.raises(RuntimeError):
        async with store.lock("failing"):
            raise RuntimeError("the action server is down")
    async with store.lock("failing"):
        pass
    assert store._locks == {}
