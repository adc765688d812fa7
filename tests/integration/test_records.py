"""Messages in and out reach the append-only communications record, without identity answers."""
from __future__ import annotations

import asyncio
import threading

from bot.domain.cards import CARD_REDACTION
from bot.records import ConversationRecorder, LedgerEventBroker
from bot.transcripts import WITHHELD

SENDER = "+14155550101"


def events():
    base = 1_795_000_000.0
    stream = [
        {"event": "session_started"},
        {"event": "user", "text": "how much do i owe", "input_channel": "rest"},
        {"event": "bot", "text": "What is your date of birth?"},
        {"event": "slot", "name": "requested_slot", "value": "dob_answer"},
        {"event": "user", "text": "3/4/85", "input_channel": "rest"},
        {"event": "slot", "name": "requested_slot", "value": "zip_answer"},
        {"event": "user", "text": "94110", "input_channel": "rest"},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "slot", "name": "active_account", "value": "BW-10001"},
        {"event": "bot", "text": "Your balance is $775.00."},
        {"event": "user", "text": "my card is 4242 4242 4242 4242", "input_channel": "rest"},
        {"event": "action", "name": "action_listen"},
    ]
    return [{"sender_id": SENDER, "timestamp": base + i, **event} for i, event in enumerate(stream)]


def test_the_record_keeps_every_message_but_never_identity_answers_or_cards(ledger):
    recorder = ConversationRecorder(ledger)
    for event in events():
        assert recorder.record([event]) == [True]
    record = ledger.communications(SENDER)
    assert [(r["direction"], r["body"]) for r in record] == [
        ("in", "how much do i owe"),
        ("out", "What is your date of birth?"),
        ("in", WITHHELD),
        ("in", WITHHELD),
        ("out", "Your balance is $775.00."),
        ("in", f"my card is {CARD_REDACTION}"),
    ]
    assert {r["channel"] for r in record} == {"webchat"}
    assert record[-1]["account_ref"] == "BW-10001"


def test_the_broker_writes_in_order_off_the_event_loop(ledger):
    broker = LedgerEventBroker(ConversationRecorder(ledger))
    for event in events():
        broker.publish(event)
    asyncio.run(broker.close())
    assert len(ledger.communications(SENDER)) == 6


def held_broker(ledger):
    """A broker whose writer thread waits until released, so that events pile up as under load."""
    broker = LedgerEventBroker(ConversationRecorder(ledger))
    release = threading.Event()
    broker._writer.submit(release.wait)
    return broker, release


def test_events_that_wait_are_written_together_in_order(ledger, monkeypatch):
    writes = []
    log_communications = ledger.log_communications
    monkeypatch.setattr(ledger, "log_communications",
                        lambda communications: writes.append(len(communications)) or log_communications(communications))
    broker, release = held_broker(ledger)
    for event in events():
        broker.publish(event)
    release.set()
    asyncio.run(broker.close())
    assert writes == [6]  # one transaction; the calls after it found nothing left
    assert [r["body"] for r in ledger.communications(SENDER)][1:4] == ["What is your date of birth?", WITHHELD, WITHHELD]


def test_a_batch_that_cannot_be_written_is_written_one_by_one_and_the_failure_logged(ledger, monkeypatch, caplog):
    log_communications = ledger.log_communications

    def refuses_the_balance(communications):
        if any("balance" in c.body for c in communications):
            raise RuntimeError("the database refused it")
        log_communications(communications)

    monkeypatch.setattr(ledger, "log_communications", refuses_the_balance)
    broker, release = held_broker(ledger)
    for event in events():
        broker.publish(event)
    release.set()
    asyncio.run(broker.close())
    bodies = [r["body"] for r in ledger.communications(SENDER)]
    # The identity answers stay withheld though the events were read once, before the batch failed.
    assert bodies == ["how much do i owe", "What is your date of birth?", WITHHELD, WITHHELD, f"my card is {CARD_REDACTION}"]
    assert f"could not write the communications record for {SENDER}" in caplog.text


def test_a_record_that_cannot_be_written_is_reported_for_the_queue_consumer_to_retry(ledger, monkeypatch):
    monkeypatch.setattr(ledger, "log_communications", lambda communications: 1 / 0)
    stream = events()
    # The user's message and the bot's answer could not be written; the session's start needs no writing.
    assert ConversationRecorder(ledger).record(stream[:3]) == [True, False, False]
