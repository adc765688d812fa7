"""Messages in and out reach the append-only communications record, without identity answers."""
from __future__ import annotations

import asyncio

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
        recorder.record(event)
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
