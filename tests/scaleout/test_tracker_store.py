"""The tracker store as written to SQLite and PostgreSQL: no identity answers, no card numbers; failures loud."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as sa_inspect

from bot.adapters.tracker_store import HEALTH, GuardedSQLTrackerStore, guard_turns
from bot.log_redaction import redact_log_text
from bot.security import Sealer

ROOT = Path(__file__).resolve().parents[2]
CARD = "4242 4242 4242 4242"
TRY_AGAIN_EN = ("Sorry, something went wrong on our side and I can't continue our conversation right now. "
                "Please try again in a minute.")
TRY_AGAIN_ES = ("Lo siento, algo falló de nuestro lado y ahora mismo no puedo continuar nuestra conversación. "
                "Por favor, inténtelo de nuevo en un minuto.")


class Recorded(EventBroker):
    """What an event broker would have received."""

    def __init__(self) -> None:
        self.events: List[dict] = []

    def publish(self, event) -> None:
        self.events.append(event)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres_database_url")


def guarded_store(url: str, domain: Domain, broker=None) -> GuardedSQLTrackerStore:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return GuardedSQLTrackerStore(domain=domain, dialect=parsed.drivername, host=parsed.host, port=parsed.port,
                                  username=parsed.username, db=parsed.database, event_broker=broker)


def verification_conversation(sender: str, domain: Domain) -> DialogueStateTracker:
    """Date of birth and ZIP asked and answered, then a card number typed (as a channel would not let)."""
    sealer = Sealer("test-key")
    events = [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("what do I owe?", {"name": "ask_balance", "confidence": 1.0}),
        SlotSet("requested_slot", "dob_answer"), BotUttered("What is your date of birth?"),
        ActionExecuted("action_listen"),
        UserUttered("3/4/1985", {"name": "inform", "confidence": 1.0},
                    [{"entity": "time", "value": "1985-03-04", "start": 0, "end": 8}]),
        SlotSet("dob_answer", sealer.seal("1985-03-04")), SlotSet("requested_slot", "zip_answer"),
        BotUttered("And what is your home ZIP code?"), ActionExecuted("action_listen"),
        UserUttered("94110", {"name": "inform", "confidence": 1.0}),
        SlotSet("zip_answer", sealer.seal("94110")), SlotSet("requested_slot", None),
        BotUttered("Thanks, you're verified."), ActionExecuted("action_listen"),
        UserUttered(f"my card is {CARD}", {"name": "inform", "confidence": 1.0}),
    ]
    return DialogueStateTracker.from_events(sender, events, domain.slots)


async def test_identity_answers_and_card_numbers_never_reach_the_database_or_the_broker(store_url, domain):
    broker = Recorded()
    store = guarded_store(store_url, domain, broker)
    tracker = verification_conversation("privacy-1", domain)
    await store.save(tracker)

    engine = create_engine(store_url)
    with engine.connect() as connection:
        rows = [row.data for row in connection.execute(
            text("SELECT data FROM events WHERE sender_id = 'privacy-1' ORDER BY id"))]
    engine.dispose()
    written = "\n".join(rows) + json.dumps(broker.events)
    assert len(rows) == len(tracker.events) == len(broker.events)
    for secret in ("3/4/1985", "1985-03-04", "94110", CARD, "4242424242424242"):
        assert secret not in written
    texts = [json.loads(row).get("text") for row in rows if json.loads(row)["event"] == "user"]
    assert texts == ["what do I owe?", "[redacted]", "[redacted]", "my card is [card number removed]"]
    # The sealed answers stay: a later turn still verifies with them.
    restored = await store.retrieve("privacy-1")
    assert Sealer("test-key").unseal(restored.get_slot("dob_answer")) == "1985-03-04"


async def test_saved_turn_by_turn_an_answer_to_a_question_asked_in_an_earlier_turn_is_redacted(store_url, domain):
    # Rasa reads and saves the tracker once per message: the question (requested_slot) is already stored
    # when the answer comes, and an answer the form could not use fills no slot that would give it away.
    broker = Recorded()
    store = guarded_store(store_url, domain, broker)
    turns = [
        [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
         UserUttered("what do I owe?", {"name": "ask_balance", "confidence": 1.0}),
         SlotSet("requested_slot", "dob_answer"), BotUttered("What is your date of birth?"),
         ActionExecuted("action_listen")],
        [UserUttered("march 4 in 85", {"name": "inform", "confidence": 1.0}),
         BotUttered("Sorry, I didn't get that date."), ActionExecuted("action_listen")],
        [UserUttered("3 4 85", {"name": "inform", "confidence": 1.0}), SlotSet("requested_slot", None),
         BotUttered("Let's try another way."), ActionExecuted("action_listen")],
        [UserUttered("what?", {"name": "out_of_scope", "confidence": 1.0}),
         BotUttered("How can I help?"), ActionExecuted("action_listen")],
    ]
    tracker = DialogueStateTracker("privacy-2", domain.slots)
    for turn in turns:
        for event in turn:
            tracker.update(event)
        await store.save(tracker)
        tracker = await store.retrieve("privacy-2")

    assert len(broker.events) == sum(len(turn) for turn in turns)
    assert "march 4" not in json.dumps(broker.events) and "3 4 85" not in json.dumps(broker.events)
    texts = [event.get("text") for event in broker.events if event["event"] == "user"]
    assert texts == ["what do I owe?", "[redacted]", "[redacted]", "what?"]


async def test_the_next_message_reuses_the_saved_tracker_without_reading_it_back(store_url, domain, monkeypatch):
    store = guarded_store(store_url, domain)
    await store.save(verification_conversation("recent-1", domain))
    tracker = await store.retrieve("recent-1")
    tracker.update(UserUttered("and who is it from?", {"name": "ask_creditor", "confidence": 1.0}))
    await store.save(tracker)
    reads, counts = [], []
    monkeypatch.setattr(DialogueStateTracker, "from_dict", lambda *args, **kwargs: reads.append(args))
    monkeypatch.setattr(store, "_stored", lambda *args: counts.append(args))
    assert await store.retrieve("recent-1") is tracker
    assert reads == [] and counts == []  # nor are the session's events counted


async def test_a_turn_with_an_identity_answer_is_read_back_redacted_not_reused(store_url, domain):
    store = guarded_store(store_url, domain)
    await store.save(verification_conversation("recent-4", domain))
    tracker = await store.retrieve("recent-4")
    tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("requested_slot", "dob_answer"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    tracker = await store.retrieve("recent-4")
    tracker.update(UserUttered("3/4/1985", {"name": "inform", "confidence": 1.0}))
    await store.save(tracker)
    again = await store.retrieve("recent-4")
    assert again is not tracker and again.latest_message.text == "[redacted]"


async def test_a_long_conversation_kept_as_its_latest_turns_stores_every_event_once(store_url, domain):
    store = guarded_store(store_url, domain)
    await store.save(verification_conversation("long-1", domain))
    said = []
    for number in range(150):
        tracker = await store.retrieve("long-1")
        text_ = f"message {number}"
        said.append(text_)
        for event in (UserUttered(text_, {"name": "ask_balance", "confidence": 1.0}),
                      SlotSet("language", "es" if number % 2 else "en"),
                      BotUttered(f"reply {number}"), ActionExecuted("action_listen")):
            tracker.update(event)
        await store.save(tracker)
    kept = await store.retrieve("long-1")
    assert len(kept.events) < 200 and kept.get_slot("language") == "es"  # the window, in the latest state
    assert Sealer("test-key").unseal(kept.get_slot("dob_answer")) == "1985-03-04"  # set 150 turns ago

    engine = create_engine(store_url)
    with engine.connect() as connection:
        rows = [json.loads(row.data) for row in connection.execute(
            text("SELECT data FROM events WHERE sender_id = 'long-1' ORDER BY id"))]
    engine.dispose()
    assert [row["text"] for row in rows if row["event"] == "user"][-150:] == said
    assert len(rows) == len(verification_conversation("long-1", domain).events) + 150 * 4


async def test_a_message_another_server_handled_is_read_from_the_database(store_url, domain):
    here, there = guarded_store(store_url, domain), guarded_store(store_url, domain)
    await here.save(verification_conversation("recent-2", domain))
    theirs = await there.retrieve("recent-2")
    theirs.update(UserUttered("and who is it from?", {"name": "ask_creditor", "confidence": 1.0}))
    await there.save(theirs)
    assert (await here.retrieve("recent-2")).latest_message.text == "and who is it from?"


def another_server_writes(store_url: str, sender_id: str, event: UserUttered) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
                                "VALUES (:sender, 'user', :at, :intent, :data)"),
                           {"sender": sender_id, "at": event.timestamp, "intent": event.intent_name,
                            "data": json.dumps(event.as_dict())})
    engine.dispose()


def stored_user_texts(store_url: str, sender_id: str) -> List[str]:
    engine = create_engine(store_url)
    with engine.connect() as connection:
        rows = [json.loads(row.data) for row in connection.execute(
            text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": sender_id})]
    engine.dispose()
    return [row["text"] for row in rows if row["event"] == "user"]


async def test_an_event_another_server_wrote_between_this_ones_read_and_save_is_kept_with_this_turn(
        store_url, domain):
    here = guarded_store(store_url, domain)
    await here.save(verification_conversation("recent-5", domain))
    ours = await here.retrieve("recent-5")
    another_server_writes(store_url, "recent-5", UserUttered("slipped in", {"name": "ask_creditor", "confidence": 1.0}))
    ours.update(UserUttered("and how much?", {"name": "ask_balance", "confidence": 1.0}))
    await here.save(ours)
    assert stored_user_texts(store_url, "recent-5")[-2:] == ["slipped in", "and how much?"]
    read = await here.retrieve("recent-5")
    assert read is not ours
    assert [e.text for e in read.events if isinstance(e, UserUttered)][-2:] == ["slipped in", "and how much?"]


async def test_a_tracker_read_while_another_server_wrote_is_not_trusted_by_the_next_save(
        store_url, domain, monkeypatch):
    here = guarded_store(store_url, domain)
    await here.save(verification_conversation("recent-6", domain))
    here._recent.forget("recent-6")
    stored = here._stored

    def counted_then_another_server_writes(session, sender_id):
        counted = stored(session, sender_id)
        another_server_writes(store_url, sender_id, UserUttered("slipped in", {"name": "ask_creditor", "confidence": 1.0}))
        return counted

    monkeypatch.setattr(here, "_stored", counted_then_another_server_writes)
    ours = await here.retrieve("recent-6")
    monkeypatch.undo()
    ours.update(UserUttered("and how much?", {"name": "ask_balance", "confidence": 1.0}))
    await here.save(ours)
    assert stored_user_texts(store_url, "recent-6")[-3:] == [
        "my card is [card number removed]", "slipped in", "and how much?"]


async def test_a_tracker_saved_twice_stores_each_event_once(store_url, domain):
    store = guarded_store(store_url, domain)
    await store.save(verification_conversation("twice-1", domain))
    tracker = await store.retrieve("twice-1")
    tracker.update(UserUttered("and who is it from?", {"name": "ask_creditor", "confidence": 1.0}))
    await store.save(tracker)
    tracker.update(BotUttered("Brightwork Dental"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    await store.save(tracker)
    assert stored_user_texts(store_url, "twice-1")[-2:] == ["my card is [card number removed]", "and who is it from?"]
    again = await store.retrieve("twice-1")
    assert [event.as_dict() for event in again.events][-3:] == [event.as_dict() for event in tracker.events][-3:]
    assert len(again.events) == len(tracker.events)


async def test_the_store_counts_the_events_of_the_latest_session_as_rasa_reads_them(store_url, domain):
    store = guarded_store(store_url, domain)
    tracker = verification_conversation("sessions-1", domain)
    with store.session_scope() as session:
        assert store._stored(session, "sessions-1") == (0, 0, None)
    await store.save(tracker)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                  UserUttered("hi again", {"name": "greet", "confidence": 1.0})):
        tracker.update(event)
    await store.save(tracker)
    with store.session_scope() as session:
        stored = store._stored(session, "sessions-1")
        rasas = store._event_query(session, "sessions-1", fetch_events_from_all_sessions=False)
        assert stored.session_events == rasas.count() == len((await store.retrieve("sessions-1")).events) == 3
        assert stored.events == store._event_query(session, "sessions-1", fetch_events_from_all_sessions=True).count()
        assert stored.events > stored.session_events
        assert stored.last_id == max(event.id for event in rasas.all())
        assert store._written(session, "sessions-1") == (stored.events, stored.last_id)


@pytest.mark.postgres
async def test_postgresql_finds_a_conversations_last_event_in_an_index(postgres_database_url, domain):
    store = guarded_store(postgres_database_url, domain)
    await store.save(verification_conversation("indexed-1", domain))
    indexes = sa_inspect(store.engine).get_indexes("events")
    assert {"name": "ix_events_sender_id_id", "column_names": ["sender_id", "id"]}.items() <= \
        next(index for index in indexes if index["name"] == "ix_events_sender_id_id").items()
    guarded_store(postgres_database_url, domain)  # a second server starting finds it there


@pytest.mark.postgres
def test_a_server_that_loses_the_race_to_create_the_index_starts_anyway(postgres_database_url, domain, monkeypatch):
    import sqlalchemy as sa

    guarded_store(postgres_database_url, domain)  # the first server created the index
    create = sa.Index.create
    # The second checked before the first created it, so its CREATE INDEX meets the index already there.
    monkeypatch.setattr(sa.Index, "create", lambda index, bind, checkfirst=False: create(index, bind, checkfirst=False))
    guarded_store(postgres_database_url, domain)


async def test_a_turn_that_failed_before_saving_is_not_remembered(store_url, domain):
    store, other = guarded_store(store_url, domain), guarded_store(store_url, domain)
    tracker = verification_conversation("recent-3", domain)
    await store.save(tracker)
    tracker.update(UserUttered("never saved", {"name": "inform", "confidence": 1.0}))  # then the turn failed
    assert (await store.retrieve("recent-3")).latest_message.text != "never saved"
    # ...even when another server then saved as many events as the failed turn had added
    tracker.update(UserUttered("never saved either", {"name": "inform", "confidence": 1.0}))
    theirs = await other.retrieve("recent-3")
    theirs.update(UserUttered("saved elsewhere", {"name": "inform", "confidence": 1.0}))
    await other.save(theirs)
    assert (await store.retrieve("recent-3")).latest_message.text == "saved elsewhere"


def test_logs_lose_dates_zip_codes_and_card_numbers():
    assert redact_log_text(f"user said '3/4/1985' then 94110 and {CARD}") == \
        "user said '[date]' then [zip] and [card number removed]"
    assert redact_log_text("Error while reading from 127.0.0.1") == "Error while reading from 127.0.0.1"


async def test_a_failing_database_is_loud_and_the_consumer_is_asked_to_try_again(tmp_path, domain, caplog):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = guarded_store(url, domain)
    fail_safe = FailSafeTrackerStore(store)  # how Rasa's agent wraps every tracker store

    async def rasa_turn(message: UserMessage) -> None:
        """What Rasa does with a message: read the tracker (None when the read fails), reply, save."""
        tracker = await fail_safe.get_or_create_tracker(message.sender_id)
        await message.output_channel.send_text_message(message.sender_id, "Hello! How can I help?")
        tracker.update(UserUttered(message.text))
        await fail_safe.save(tracker)

    handle = guard_turns(rasa_turn)

    async def replies(text: str, sender: str, **metadata) -> List[str]:
        collector = CollectingOutputChannel()  # one per request, as Rasa's REST channel does
        await handle(UserMessage(text, collector, sender, metadata=metadata))
        return [m["text"] for m in collector.messages]

    assert await replies("hi", "outage-1") == ["Hello! How can I help?"]
    assert HEALTH.report()["tracker_store"] == "ok"  # what GET /webhooks/health/ serves

    with store.engine.begin() as connection:  # the database loses the table: every query fails
        connection.exec_driver_sql("ALTER TABLE events RENAME TO events_away")
    try:
        with caplog.at_level(logging.ERROR):
            # The first turn to meet the failure: Rasa started the conversation over; the consumer
            # hears the truth instead of a greeting.
            assert await replies("what do I owe?", "outage-1") == [TRY_AGAIN_EN]
            # Later turns while it lasts are not processed at all.
            assert await replies("¿cuánto debo?", "outage-2", language="es") == [TRY_AGAIN_ES]
        assert any(r.levelno == logging.ERROR and "tracker store" in r.getMessage() for r in caplog.records)
        assert HEALTH.report()["tracker_store"] == "failing"
    finally:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE events_away RENAME TO events")
    assert HEALTH.report()["tracker_store"] == "ok"
    assert await replies("hi again", "outage-1") == ["Hello! How can I help?"]


async def test_sqlite_keeps_a_write_ahead_log(tmp_path, domain):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = guarded_store(url, domain)
    await store.save(verification_conversation("wal-1", domain))
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


async def test_a_turn_that_cannot_take_the_conversations_lock_is_asked_to_try_again(caplog):
    async def redis_down(message: UserMessage) -> None:
        raise LockError("Could not issue a ticket: Connection refused")  # what the lock store raises

    collector = CollectingOutputChannel()
    with caplog.at_level(logging.ERROR):
        await guard_turns(redis_down)(UserMessage("what do I owe?", collector, "locked-out"))
    assert [m["text"] for m in collector.messages] == [TRY_AGAIN_EN]  # Rasa's REST channel would say nothing
    assert any(r.levelno == logging.ERROR and "lock store" in r.getMessage() for r in caplog.records)
