"""SqlMessaging on SQLite and PostgreSQL: message ids seen once, choices, codes, append-only records."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.ledger.messaging import OutboundRecord, SqlMessaging

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)
PHONE = "+14155550101"


@pytest.fixture
def messaging(engine) -> SqlMessaging:
    return SqlMessaging(engine)


def test_a_message_id_is_claimed_once_per_channel(messaging):
    assert messaging.claim_inbound("sms", "SM1", PHONE, NOW)
    assert not messaging.claim_inbound("sms", "SM1", PHONE, NOW + timedelta(seconds=5))  # Twilio's retry
    assert messaging.claim_inbound("whatsapp", "SM1", f"whatsapp:{PHONE}", NOW)


def test_retries_claimed_at_the_same_moment_from_many_threads_win_once(messaging):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: messaging.claim_inbound("sms", "SM-race", PHONE, NOW), range(16)))
    assert results.count(True) == 1


def test_last_inbound_opens_the_whatsapp_window(messaging):
    address = f"whatsapp:{PHONE}"
    assert messaging.last_inbound("whatsapp", address) is None
    messaging.claim_inbound("whatsapp", "SM1", address, NOW - timedelta(hours=30))
    messaging.claim_inbound("whatsapp", "SM2", address, NOW - timedelta(hours=2))
    assert messaging.last_inbound("whatsapp", address) == NOW - timedelta(hours=2)
    assert messaging.last_phone_channel(PHONE) == "whatsapp"
    messaging.claim_inbound("sms", "SM3", PHONE, NOW)
    assert messaging.last_phone_channel(PHONE) == "sms"
    assert messaging.last_phone_channel("+19995550000") is None


def test_choices_are_replaced_by_each_reply_and_expire(messaging):
    menu = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    messaging.offer_choices("sms", PHONE, menu, NOW)
    assert messaging.choices("sms", PHONE) == menu
    assert messaging.choices("sms", PHONE, since=NOW + timedelta(hours=1)) == []  # too old
    messaging.offer_choices("sms", PHONE, [{"title": "Talk to a person", "payload": "/request_human"}], NOW)
    assert [c["payload"] for c in messaging.choices("sms", PHONE)] == ["/request_human"]
    messaging.offer_choices("sms", PHONE, [], NOW)  # a reply without buttons
    assert messaging.choices("sms", PHONE) == []


def test_one_time_codes_count_guesses_and_are_used_once(messaging, demo_ledger):
    code_id = messaging.store_code("web-1", 1, "BW-10001", "hash", NOW, NOW + timedelta(minutes=10))
    stored = messaging.latest_code("web-1")
    assert (stored.id, stored.consumer_id, stored.account_ref, stored.attempts) == (code_id, 1, "BW-10001", 0)
    assert messaging.count_code_attempt(code_id) == 1
    assert messaging.count_code_attempt(code_id) == 2
    assert messaging.use_code(code_id, NOW)
    assert not messaging.use_code(code_id, NOW)
    assert messaging.code_requests_since(NOW - timedelta(hours=1), conversation_id="web-1") == 1
    assert messaging.code_requests_since(NOW - timedelta(hours=1), consumer_id=1) == 1
    assert messaging.code_requests_since(NOW + timedelta(seconds=1), consumer_id=1) == 0


def record(**overrides) -> OutboundRecord:
    values = dict(purpose="payment_reminder", proactive=True, channel="sms", address=PHONE,
                  response="utter_payment_reminder", status="sent", reason="allowed", body="Hi", attempted_at=NOW,
                  consumer_id=None, account_ref="BW-10001", message_key="k1", provider_id="SM1")
    values.update(overrides)
    return OutboundRecord(**values)


def test_outbound_attempts_are_recorded_and_read_back(messaging):
    messaging.log_attempt(record())
    messaging.log_attempt(record(status="suppressed", reason="opted_out", provider_id=None, message_key="k2",
                                 attempted_at=NOW + timedelta(minutes=1), body="card 4242 4242 4242 4242"))
    attempts = messaging.attempts(account_ref="BW-10001")
    assert [(a.status, a.reason) for a in attempts] == [("sent", "allowed"), ("suppressed", "opted_out")]
    assert "4242" not in attempts[1].body  # card numbers never reach the record
    assert messaging.was_sent("k1") and not messaging.was_sent("k2")
    with pytest.raises(ValueError):
        messaging.log_attempt(record(status="maybe"))


def test_sent_proactive_messages_since(messaging, demo_ledger):
    for minutes, status in ((0, "sent"), (1, "suppressed"), (2, "sent")):
        messaging.log_attempt(record(consumer_id=1, status=status, attempted_at=NOW + timedelta(minutes=minutes),
                                     message_key=f"k{minutes}"))
    messaging.log_attempt(record(consumer_id=1, proactive=False, purpose="one_time_code", message_key=None))
    assert messaging.sent_proactive_since(1, NOW - timedelta(days=7)) == [NOW, NOW + timedelta(minutes=2)]


@pytest.mark.parametrize("table", ["inbound_messages", "outbound_attempts"])
def test_message_records_are_append_only(engine, messaging, table):
    messaging.claim_inbound("sms", "SM1", PHONE, NOW)
    messaging.log_attempt(record())
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))
