"""The lock store of a single Rasa server: one turn per conversation at a time, the next starting at once.

Rasa's default `InMemoryLockStore` makes a waiting message re-read its lock once a second, so the
fifth message of a burst of five from one consumer waits about four seconds for turns that take a
tenth of that. Here each conversation has an `asyncio.Lock`: it wakes its waiters in arrival order the
moment the holder finishes, and a newcomer never overtakes a waiter.

A turn that holds the conversation longer than Rasa's lock lifetime (`TICKET_LOCK_LIFETIME`, 60 s)
makes the waiters give up with Rasa's `LockError`, as Rasa's own store does when a ticket expires.

It only serves one process (one Sanic worker: `python -m bot up` refuses `SANIC_WORKERS` above 1 without Redis). Several Rasa servers share conversations through the atomic Redis store
(`bot/adapters/lock_store.py`), which `python -m bot up` chooses whenever `LOCK_STORE_URL` is set.

endpoints.yml:
    lock_store:
      type: bot.adapters.local_lock_store.LocalLockStore
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import AsyncIterator, Dict, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore


class LocalLockStore(LockStore):
    def __init__(self, endpoint_config=None) -> None:
        self._locks: Dict[str, asyncio.Lock] = {}
        self._holders_and_waiters: Dict[str, int] = {}
        super().__init__()

    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 0) -> AsyncIterator[TicketLock]:
        """Wait for this conversation's turn (at most `lock_lifetime` seconds), hold it while the caller works."""
        lifetime = lock_lifetime or LOCK_LIFETIME
        conversation = self._join(conversation_id)
        try:
            try:
                await asyncio.wait_for(conversation.acquire(), timeout=lifetime)
            except asyncio.TimeoutError:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.") from None
            try:
                yield TicketLock(conversation_id, deque([Ticket(0, time.time() + lifetime)]))
            finally:
                conversation.release()
        finally:
            self._leave(conversation_id)

    def _join(self, conversation_id: str) -> asyncio.Lock:
        self._holders_and_waiters[conversation_id] = self._holders_and_waiters.get(conversation_id, 0) + 1
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    def _leave(self, conversation_id: str) -> None:
        """Forget a conversation nobody holds or waits for, so the store does not grow with every sender."""
        self._holders_and_waiters[conversation_id] -= 1
        if not self._holders_and_waiters[conversation_id]:
            del self._holders_and_waiters[conversation_id]
            del self._locks[conversation_id]

    # --- Rasa's synchronous ticket interface has no users besides `lock`.

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = 0) -> int:
        raise NotImplementedError("LocalLockStore hands out turns inside `lock()` only")
