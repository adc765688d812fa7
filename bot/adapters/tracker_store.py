"""Rasa's SQL tracker store, made private and loud.

Private: identity answers (date of birth, ZIP code) and card numbers are redacted from every event
before it is written to the database or published to the event broker (bot.transcripts.redact_events).
The action server still sees the clear text during the turn: it gets the live tracker, not the store's.

Loud: Rasa wraps every tracker store in a `FailSafeTrackerStore` that, when the database fails,
starts the conversation over (a failed read returns no tracker) and keeps the turn in memory (a failed
write), logging one line. Here every failure is logged at ERROR, counted in `HEALTH` (served at
`/webhooks/health/` by channels.health), and the channels answer that turn with the kind
`utter_try_again_shortly` instead of whatever the restarted conversation said (`guard_turns`). A turn
that could not take the conversation's lock (Redis down) gets the same answer instead of none.

Quick: each save writes only the new events, and the next message of a conversation reuses the
tracker this process saved (`RecentTrackers`) while the database still holds exactly its events; a
long conversation is kept as its latest turns (bot.adapters.tracker_window). A
turn whose events needed redacting is not kept: the next message reads the redacted events back, so
identity answers never outlive their turn in memory either.

endpoints.yml:
    tracker_store:
      type: bot.adapters.tracker_store.GuardedSQLTrackerStore
      dialect: postgresql
      url: 127.0.0.1
      db: rasa
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Set, Text, Tuple

import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import AllSlotsReset, Restarted, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.adapters.tracker_window import stored_offset, windowed
from bot.log_redaction import install_log_redaction
from bot.recently_used import RecentlyUsed
from bot.transcripts import redact_events

logger = logging.getLogger(__name__)

TRY_AGAIN = "utter_try_again_shortly"
RECENT_TRACKERS = 500  # conversations whose tracker a Rasa server keeps in memory between messages
SENDER_AND_ID_INDEX = "ix_events_sender_id_id"


class StoreHealth:
    """The tracker store's state in this process, and the conversations whose turn it failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failing = False
        self.last_error: Optional[str] = None
        self.failures = 0
        self.since: Optional[float] = None
        self._failed_turns: Set[str] = set()
        self.store: Optional["GuardedSQLTrackerStore"] = None

    def failed(self, sender_id: Optional[str], error: BaseException) -> None:
        with self._lock:
            if not self.failing:
                self.since = time.time()
            self.failing, self.last_error = True, f"{type(error).__name__}: {error}"
            self.failures += 1
            if sender_id:
                self._failed_turns.add(sender_id)

    def succeeded(self) -> None:
        with self._lock:
            self.failing, self.since = False, None

    def turn_failed(self, sender_id: str) -> bool:
        """Whether the store failed for this conversation since the last call (and forget it)."""
        with self._lock:
            failed = sender_id in self._failed_turns
            self._failed_turns.discard(sender_id)
            return failed

    def available(self) -> bool:
        """True unless the store is failing and a fresh probe of the database fails too."""
        if not self.failing or self.store is None:
            return True
        return self.store.probe()

    def report(self) -> Dict[str, Any]:
        available = self.available()
        return {"tracker_store": "ok" if available else "failing", "failures": self.failures,
                "last_error": self.last_error, "failing_since": None if available else self.since}


HEALTH = StoreHealth()


class GuardedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore with redaction before writing and streaming, and failures reported loudly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self.engine = pooled_sqlite(self.engine)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        # Only this store publishes: Rasa's fail-safe builds its in-memory fallback with the primary's
        # broker, and that fallback would publish the turn unredacted.
        self._broker, self.event_broker = self.event_broker, None
        self._recent = RecentTrackers()
        index_events_by_sender_and_id(self.engine, self.SQLEvent.__table__)
        self._stored_query = stored_query(self.SQLEvent.__table__)
        self._written_query = written_query(self.SQLEvent.__table__)
        self._insert_query = self.SQLEvent.__table__.insert()
        install_log_redaction()
        HEALTH.store = self

    def probe(self) -> bool:
        """One cheap read of the events table: what every turn needs."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.select(self.SQLEvent.id).limit(1))
        except Exception as error:
            HEALTH.failed(None, error)
            return False
        HEALTH.succeeded()
        return True

    async def _guarded(self, sender_id: Optional[str], what: str, work: Awaitable[Any]) -> Any:
        try:
            result = await work
        except Exception as error:
            logger.error("the tracker store could not %s conversation %s: %s", what, sender_id, error)
            HEALTH.failed(sender_id, error)
            raise
        HEALTH.succeeded()
        return result

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._guarded(sender_id, "read", self._retrieve_recent_or_stored(sender_id))

    async def _retrieve_recent_or_stored(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker this process saved last, if nothing was written to the conversation since; else a read."""
        with self.session_scope() as session:
            tracker = self._recent.get(sender_id, self._written(session, sender_id))
            stored = self._stored(session, sender_id) if tracker is None else None
        if stored is not None:
            tracker = await super().retrieve(sender_id)
            if tracker is not None and holds_exactly(tracker, stored):
                self._recent.put(sender_id, stored, tracker)
        return tracker

    def _written(self, session: Any, sender_id: Text) -> Tuple[int, Optional[int]]:
        """How many events of the conversation, all sessions, the database holds, and the last one's id.

        Counted in the index on `sender_id` alone: what every message asks, where counting the current
        session's events reads each event's row (20 ms for a conversation of 10,000 events on SQLite).
        """
        events, last_id = session.execute(self._written_query, {"sender_id": sender_id}).one()
        return int(events), last_id

    def _stored(self, session: Any, sender_id: Text) -> "Stored":
        """What the database holds of the conversation: its latest session's events, and all of them."""
        session_events, events, last_id = session.execute(self._stored_query, {"sender_id": sender_id}).one()
        return Stored(int(session_events), int(events), last_id)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._guarded(conversation_id, "read", super().retrieve_full_tracker(conversation_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._guarded(tracker.sender_id, "save", self._save(tracker))

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """The new events, redacted, to the event broker (what `save` does after writing them)."""
        with self.session_scope() as session:
            self._publish(tracker.sender_id, unsaved_after(tracker, self._stored(session, tracker.sender_id)))

    async def _save(self, tracker: DialogueStateTracker) -> None:
        """Only the events the database lacks, redacted once, written, then published.

        The events the database held when this store read the tracker are known from that read; a
        tracker from elsewhere has them counted in SQL. Rasa's own store reloads the
        whole tracker on every save to find them: a full read and deserialisation per message,
        growing with the conversation.
        """
        with self.session_scope() as session:
            stored = self._recent.stored_when_read(tracker) or self._stored(session, tracker.sender_id)
            unsaved = unsaved_after(tracker, stored)
            if unsaved:
                session.execute(self._insert_query, [event_row(tracker.sender_id, event, data)
                                                     for event, data in unsaved])
            # What this transaction counted and wrote; a new session's events are counted afresh, in SQL.
            # The last id is read back: on SQLite the transaction holds the write lock, and on a server
            # another writer's event in between makes the count differ, so the next read goes to SQL.
            new_session = any(isinstance(event, SessionStarted) for event, _ in unsaved)
            written = (stored.adding(len(unsaved), self._written(session, tracker.sender_id)[1])
                       if unsaved and not new_session else None)
            session.commit()
            self._remember(session, tracker, unsaved, written)
        self._publish(tracker.sender_id, unsaved)

    def _remember(self, session: Any, tracker: DialogueStateTracker, unsaved: List[Tuple[Any, Dict[str, Any]]],
                  written: Optional["Stored"]) -> None:
        """Keep the saved tracker (its window, once long) for the next message, unless it holds clear text.

        What the database holds is what the save counted and wrote (`written`), else counted in SQL. If
        another writer added events to the conversation meanwhile, the next read finds more events in
        the database than remembered and reads the conversation from there. A tracker not kept is
        forgotten, so neither the next read nor another save of it trusts the count of an earlier turn.
        """
        stored = written or self._stored(session, tracker.sender_id)
        if all(data == event.as_dict() for event, data in unsaved) and holds_exactly(tracker, stored):
            self._recent.put(tracker.sender_id, stored, windowed(tracker) or tracker)
        else:
            self._recent.forget(tracker.sender_id)

    def _publish(self, sender_id: str, unsaved: List[Tuple[Any, Dict[str, Any]]]) -> None:
        if self._broker is not None:
            for _, data in unsaved:
                self._broker.publish({"sender_id": sender_id, **data})


class Stored(NamedTuple):
    """What the database holds of one conversation."""
    session_events: int  # of its latest session: what Rasa reads back as the tracker
    events: int  # of all its sessions
    last_id: Optional[int]

    def adding(self, events: int, last_id: int) -> "Stored":
        """What it holds after `events` more events of the same session, the last with id `last_id`."""
        return Stored(self.session_events + events, self.events + events, last_id)

    def written(self) -> Tuple[int, Optional[int]]:
        """What changes whenever anything writes to the conversation (nothing is ever deleted)."""
        return self.events, self.last_id


class RecentTrackers:
    """The trackers this process saved last, so the next message of a conversation skips reading it back.

    Reading a tracker parses and replays every event of the session, work that grows with the
    conversation. An entry is used only while nothing was written to the conversation since it was
    remembered (the database holds as many of its events, the last with the same id) and the tracker
    has no events beyond them: a turn that failed before saving, or a message another Rasa server
    handled, makes the next read go to the database.
    """

    def __init__(self, size: int = RECENT_TRACKERS) -> None:
        self._entries: "RecentlyUsed[str, Tuple[Stored, DialogueStateTracker]]" = RecentlyUsed(size)

    def get(self, sender_id: str, written: Tuple[int, Optional[int]]) -> Optional[DialogueStateTracker]:
        entry = self._entries.take(sender_id)
        if entry is None:
            return None
        stored, tracker = entry
        if stored.written() != written or not holds_exactly(tracker, stored):
            return None
        self._entries.keep(sender_id, entry)
        return tracker

    def stored_when_read(self, tracker: DialogueStateTracker) -> Optional[Stored]:
        """What the database held when this tracker was handed out (None: not handed out here).

        Rasa handles a conversation's message under its lock, so nothing else writes between the read
        and the save; and if something did, the save still writes exactly this turn's events after it.
        """
        stored, remembered = self._entries.peek(tracker.sender_id) or (None, None)
        return stored if remembered is tracker else None

    def forget(self, sender_id: str) -> None:
        self._entries.take(sender_id)

    def put(self, sender_id: str, stored: Stored, tracker: DialogueStateTracker) -> None:
        self._entries.keep(sender_id, (stored, tracker))


def pooled_sqlite(rasas_engine: Any) -> Any:
    """Rasa's SQLite engine opens and closes the file for every read and write (SQLAlchemy 1.4's NullPool).

    This one keeps its connections, each with a write-ahead log synced at checkpoints rather than a
    journal synced twice per turn.
    """
    engine = sa.create_engine(rasas_engine.url, poolclass=sa.pool.QueuePool,
                              connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    rasas_engine.dispose()
    return engine


def written_query(events: sa.Table) -> Any:
    """How many events a conversation (`sender_id`) has, all sessions, and the last one's id."""
    return sa.select(*_written_columns(events, sa.bindparam("sender_id")))


def stored_query(events: sa.Table) -> Any:
    """How many events a conversation (`sender_id`) has in its latest session, in all, and the last one's id.

    The latest session's events are those Rasa's `_event_query` selects (from the latest
    `SessionStarted` on, or all). Built once: building Rasa's ORM query again for every message cost
    more than running it.
    """
    sender_id = sa.bindparam("sender_id")
    session_start = sa.select(sa.func.max(events.c.timestamp)).where(
        events.c.sender_id == sender_id, events.c.type_name == SessionStarted.type_name).scalar_subquery()
    session_events = sa.select(sa.func.count(events.c.id)).where(
        events.c.sender_id == sender_id, sa.or_(events.c.timestamp >= session_start, session_start.is_(None)))
    return sa.select(session_events.scalar_subquery(), *_written_columns(events, sender_id))


def _written_columns(events: sa.Table, sender_id: Any) -> Tuple[Any, Any]:
    """Both read only an index (`index_events_by_sender_and_id`), never an event's row."""
    of_sender = events.c.sender_id == sender_id
    return (sa.select(sa.func.count()).where(of_sender).scalar_subquery(),
            sa.select(sa.func.max(events.c.id)).where(of_sender).scalar_subquery())


def index_events_by_sender_and_id(engine: Any, events: sa.Table) -> None:
    """An index on (sender_id, id), so a conversation's last event id is found without reading its rows.

    SQLite's index on `sender_id` already holds each event's id (the rowid); other databases get one
    more, created once, when the store first starts (by whichever server starts first, if several do).
    """
    if engine.dialect.name == "sqlite":
        return
    index = next((index for index in events.indexes if index.name == SENDER_AND_ID_INDEX), None)
    if index is None:
        index = sa.Index(SENDER_AND_ID_INDEX, events.c.sender_id, events.c.id)
    try:
        index.create(engine, checkfirst=True)
    except sa.exc.DBAPIError:  # another server starting at the same moment created it first
        if not any(found["name"] == SENDER_AND_ID_INDEX for found in sa.inspect(engine).get_indexes(events.name)):
            raise


def event_row(sender_id: str, event: Any, data: Dict[str, Any]) -> Dict[str, Any]:
    """An event's row in Rasa's events table, as Rasa's own store writes it."""
    return dict(sender_id=sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                action_name=data.get("name"), data=json.dumps(data))


def holds_exactly(tracker: DialogueStateTracker, stored: Stored) -> bool:
    """Whether the tracker (perhaps a window) has exactly the session's stored events, none beyond."""
    return len(tracker.events) + stored_offset(tracker) == stored.session_events


def unsaved_after(tracker: DialogueStateTracker, stored: Stored) -> List[Tuple[Any, Dict[str, Any]]]:
    """The events of a tracker (perhaps a window) that the database's events of its session lack."""
    return unsaved_redacted(tracker, stored.session_events - stored_offset(tracker))


def unsaved_redacted(tracker: DialogueStateTracker, stored: int) -> List[Tuple[Any, Dict[str, Any]]]:
    """The events after the first `stored`, each with its redacted form: only the new events are redacted."""
    events = list(tracker.events)
    new = events[stored:]
    return list(zip(new, redact_events([event.as_dict() for event in new], requested_slot_before(events, stored))))


def requested_slot_before(events: List[Any], position: int) -> Optional[str]:
    """The form's requested_slot as it stood before events[position] (None: no form was asking)."""
    for event in reversed(events[:position]):
        if isinstance(event, SlotSet) and event.key == "requested_slot":
            return event.value
        if isinstance(event, (SessionStarted, Restarted, AllSlotsReset)):
            return None
    return None


# --- the channels' side: a kind reply instead of a conversation silently started over -------------

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def guard_turns(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap a channel's `on_new_message`: when the tracker or the lock store is down, the consumer hears so."""

    async def handle(message: UserMessage) -> Any:
        if not await asyncio.to_thread(HEALTH.available):  # probes the database only while it is failing
            logger.error("conversation %s: the tracker store is down; asked the consumer to try again",
                         message.sender_id)
            await _try_again(message)
            return None
        HEALTH.turn_failed(message.sender_id)  # forget failures of earlier turns
        try:
            result = await on_new_message(message)
        except LockError as error:  # Rasa's REST channel would answer 200 with no reply, logging one line
            logger.error("conversation %s: the lock store failed (%s); asked the consumer to try again",
                         message.sender_id, error)
            await _try_again(message)
            return None
        if HEALTH.turn_failed(message.sender_id):
            if isinstance(message.output_channel, CollectingOutputChannel):
                message.output_channel.messages.clear()  # replies of a conversation started over
            await _try_again(message)
        return result

    return handle


async def _try_again(message: UserMessage) -> None:
    from bot import bootstrap

    language = (message.metadata or {}).get("language")
    channel = message.input_channel
    body = bootstrap.catalogs().render(TRY_AGAIN, language, channel)
    await message.output_channel.send_text_message(message.sender_id, body["text"])
