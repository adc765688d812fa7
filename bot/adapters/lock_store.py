"""A Redis lock store whose tickets are atomic and whose waiters wake as soon as the lock is free.

Rasa 3.6's `RedisLockStore` issues a ticket by reading the whole lock, appending to it in Python and
writing it back: two Rasa servers taking a message of one conversation at the same moment can both
get ticket 0, process the conversation side by side, and the later tracker save drops the earlier
turn's events (HTTP 200, nothing logged). Its waiters also re-read the lock once a second.

Here every change to a conversation's queue is one Lua script, so Redis runs it atomically:

- `issue`:   INCR a per-conversation counter and add the ticket to a sorted set (score = number);
- `check`:   drop expired tickets; is this ticket first in line? (and keep a live waiter's ticket fresh);
- `release`: remove the ticket, delete the keys once the queue is empty, PUBLISH the conversation id.

Each Rasa process holds one pub/sub subscription and wakes its local waiters on a release, so the next
message of a burst starts within a Redis round trip. A holder refreshes its ticket while it works; a
crashed instance stops refreshing and its ticket expires after `ticket_ttl` seconds, so it cannot hold a
conversation forever. Waiters also re-check every `poll_seconds` in case a release message was missed.

endpoints.yml:
    lock_store:
      type: bot.adapters.lock_store.AtomicRedisLockStore
      url: redis://127.0.0.1:6379/0
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import AsyncIterator, Dict, Optional, Set, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LockError, LockStore

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "rasa-lock:"
DEFAULT_TICKET_TTL_SECONDS = 20.0
DEFAULT_POLL_SECONDS = 0.5
RECONNECT_ATTEMPTS = 3

# KEYS[1] queue (sorted set: member "<number>:<expires ms>", score number), KEYS[2] counter.
# ARGV[1] ttl ms. Returns the ticket number.
_ISSUE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local number = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], number, number .. ':' .. (now_ms + tonumber(ARGV[1])))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[1]) * 2)
return number
"""

# Drops expired tickets, refreshes ticket ARGV[1] (ttl ARGV[2] ms).
# Returns 1: first in line, 0: waiting, -1: the ticket is gone (expired, or Redis lost its data).
_CHECK = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ticket = tonumber(ARGV[1])
local mine = nil
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local number, expires = string.match(member, '^(%d+):(%d+)$')
  number = tonumber(number)
  if number == ticket then
    mine = member
  elseif tonumber(expires) < now_ms then
    redis.call('ZREM', KEYS[1], member)
  end
end
if not mine then
  return -1
end
redis.call('ZREM', KEYS[1], mine)
redis.call('ZADD', KEYS[1], ticket, ticket .. ':' .. (now_ms + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if tonumber(first[2]) == ticket then
  return 1
end
return 0
"""

# Removes ticket ARGV[1]; an empty queue takes its counter with it. Wakes waiters on channel ARGV[2].
_RELEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket-lock semantics (one turn per conversation at a time, first come first served)."""

    def __init__(self, endpoint_config=None, *, url: Optional[str] = None, key_prefix: Optional[str] = None,
                 ticket_ttl: Optional[float] = None, poll_seconds: Optional[float] = None) -> None:
        kwargs = dict(getattr(endpoint_config, "kwargs", None) or {})
        self.url = url or getattr(endpoint_config, "url", None) or "redis://127.0.0.1:6379/0"
        self.key_prefix = key_prefix or kwargs.get("key_prefix") or DEFAULT_KEY_PREFIX
        self.ticket_ttl = float(ticket_ttl or kwargs.get("ticket_ttl") or DEFAULT_TICKET_TTL_SECONDS)
        self.poll_seconds = float(poll_seconds or kwargs.get("poll_seconds") or DEFAULT_POLL_SECONDS)
        self.channel = f"{self.key_prefix}released"
        self._redis = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._listener: Optional[asyncio.Task] = None
        self._waiters: Dict[str, Set[asyncio.Event]] = {}
        super().__init__()

    # --- Rasa's entry point: `async with lock_store.lock(conversation_id): ...`

    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = 0,
                   wait_time_in_seconds: float = 0) -> AsyncIterator[TicketLock]:
        """Wait for this conversation's turn, hold it while the caller works, then wake the next one."""
        await self._connect()
        ticket = await self._issue(conversation_id)
        heartbeat = None
        try:
            ticket = await self._wait_for_turn(conversation_id, ticket)
            heartbeat = asyncio.create_task(self._keep_alive(conversation_id, ticket))
            yield TicketLock(conversation_id, deque([Ticket(ticket, time.time() + self.ticket_ttl)]))
        finally:
            if heartbeat:
                heartbeat.cancel()
            await self._release(conversation_id, ticket)

    # --- the three atomic steps

    def _keys(self, conversation_id: str) -> list:
        base = f"{self.key_prefix}{conversation_id}"
        return [f"{base}:queue", f"{base}:counter"]

    @property
    def _ttl_ms(self) -> int:
        return int(self.ticket_ttl * 1000)

    async def _issue(self, conversation_id: str) -> int:
        try:
            return int(await self._redis.eval(_ISSUE, 2, *self._keys(conversation_id), self._ttl_ms))
        except Exception as error:
            raise LockError(f"Could not issue a ticket for conversation '{conversation_id}': {error}") from error

    async def _check(self, conversation_id: str, ticket: int) -> int:
        return int(await self._redis.eval(_CHECK, 2, *self._keys(conversation_id), ticket, self._ttl_ms))

    async def _check_waiting(self, conversation_id: str, ticket: int) -> int:
        try:
            return await self._check(conversation_id, ticket)
        except Exception as error:
            raise LockError(f"Could not check the lock of conversation '{conversation_id}': {error}") from error

    async def _release(self, conversation_id: str, ticket: int) -> None:
        try:
            await self._redis.eval(_RELEASE, 2, *self._keys(conversation_id), ticket, self.channel, conversation_id)
        except Exception:  # the ticket expires on its own; the next waiter proceeds then
            logger.exception("could not release the lock of conversation %s", conversation_id)

    # --- waiting

    async def _wait_for_turn(self, conversation_id: str, ticket: int) -> int:
        woken = asyncio.Event()
        self._waiters.setdefault(conversation_id, set()).add(woken)
        try:
            while True:
                woken.clear()  # before the check: a release published after it still wakes us
                state = await self._check_waiting(conversation_id, ticket)
                if state == 1:
                    return ticket
                if state == -1:
                    # Our ticket vanished: Redis lost its data (a restart) or we stalled past the ttl.
                    logger.warning("ticket %s of conversation %s was lost; queueing again", ticket, conversation_id)
                    ticket = await self._issue(conversation_id)
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=self.poll_seconds)
        finally:
            waiting = self._waiters.get(conversation_id, set())
            waiting.discard(woken)
            if not waiting:
                self._waiters.pop(conversation_id, None)

    async def _keep_alive(self, conversation_id: str, ticket: int) -> None:
        """The holder refreshes its ticket; a crashed holder stops, and its ticket expires."""
        while True:
            await asyncio.sleep(self.ticket_ttl / 3)
            try:
                await self._check(conversation_id, ticket)
            except Exception:
                logger.exception("could not refresh the lock of conversation %s", conversation_id)

    # --- connection and the release subscription, made lazily inside the running event loop

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        if self._redis is not None and self._loop is loop:
            return
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError, TimeoutError

        self._loop = loop
        # A call on a connection that Redis (or a proxy in front of it) dropped, after a restart, is made
        # again on a new one. A reply lost after Redis ran an issue leaves a spare ticket; it expires.
        self._redis = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, retry_on_error=[ConnectionError, TimeoutError],
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RECONNECT_ATTEMPTS))
        self._listener = loop.create_task(self._listen())

    async def _listen(self) -> None:
        """Wake local waiters of a released conversation; resubscribe when Redis goes away."""
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message and message.get("type") == "message":
                        self._wake(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # waiters fall back to polling meanwhile
                logger.warning("lock release subscription lost (%s); resubscribing", error)
                await asyncio.sleep(self.poll_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.close()

    def _wake(self, conversation_id: str) -> None:
        for event in self._waiters.get(conversation_id, ()):
            event.set()

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        if self._redis is not None:
            await self._redis.close()
        self._redis = None

    # --- Rasa's synchronous interface has no users besides `lock`; refuse it rather than race.

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = 0) -> int:
        raise NotImplementedError("AtomicRedisLockStore issues tickets inside `lock()` only")
