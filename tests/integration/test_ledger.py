"""SqlLedger on SQLite and PostgreSQL: balances, statements, identity, records, migrations."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from bot import bootstrap
from bot.bootstrap import make_engine
from bot.domain.accounts import AccountNotFound, ConsumerNotFound, Statement
from bot.domain.money import Money
from bot.ledger import schema as t
from bot.ledger.migrations import current_revision, head_revision, upgrade
from bot.domain.cards import CARD_REDACTION, redact_card_numbers
from bot.domain.communications import Communication
from bot.ledger.repository import SqlLedger

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)

# Balances of the demo placement, to the cent.
DEMO_BALANCES = {
    "BW-10001": 77500,
    "BW-10002": 750,
    "BW-10003": 432500,
    "NW-20001": 65235,
    "NW-20002": 29000,
    "CHP-30001": 36615,
    "CHP-30002": 543140,
    "SRS-40001": 43362,
    "SRS-40002": 9417,
}


def post(engine, ref: str, kind: str, minor: int, at: datetime = NOW, reference: str = None) -> None:
    """Post a ledger entry directly (payments arrive through features built later)."""
    with engine.begin() as connection:
        account_id = connection.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == ref)).scalar_one()
        connection.execute(insert(t.ledger_entries).values(
            account_id=account_id, kind=kind, amount_minor=minor, currency="USD", posted_at=at,
            reference=reference, description=f"{kind} test"))


def hold(engine, ref: str, minor: int, released_at=None) -> None:
    with engine.begin() as connection:
        account_id = connection.execute(select(t.accounts.c.id).where(t.accounts.c.account_ref == ref)).scalar_one()
        connection.execute(insert(t.holds).values(account_id=account_id, amount_minor=minor, reason="dispute",
                                                  created_at=NOW, released_at=released_at))


# --- balances and statements ------------------------------------------------------------------------


@pytest.mark.parametrize("ref, minor", sorted(DEMO_BALANCES.items()))
def test_demo_balances_to_the_cent(demo_ledger, ref, minor):
    statement = demo_ledger.statement(ref)
    assert statement.balance == Money(minor, "USD")
    assert sum(i.amount.minor for i in statement.line_items) == minor


def test_balance_is_the_sum_of_entries(engine, demo_ledger):
    post(engine, "BW-10001", "payment", -10000, reference="pi_1")
    post(engine, "BW-10001", "credit", -2550)
    post(engine, "BW-10001", "fee", 1500)
    post(engine, "BW-10001", "interest", 333)
    statement = demo_ledger.statement("BW-10001")
    assert statement.balance == Money(77500 - 10000 - 2550 + 1500 + 333, "USD")
    assert [e.kind for e in statement.payments_and_credits] == ["payment", "credit"]
    assert statement.payments_and_credits[0].amount == Money(-10000, "USD")
    assert statement.payments_and_credits[0].posted_at == NOW
    assert statement.interest_and_fees == Money(1833, "USD")


def test_statement_fields(demo_ledger):
    statement = demo_ledger.statement("SRS-40001")
    assert isinstance(statement, Statement)
    assert statement.account_ref == "SRS-40001" and statement.currency == "USD"
    assert statement.status == "open" and statement.is_open
    assert statement.due_since == date(2025, 10, 15)
    assert statement.creditor.id == "summit" and statement.creditor.original_creditor == "Lakeview Telecom"
    assert statement.consumer.first_name == "Sofía" and statement.consumer.language == "es"
    assert [i.reference for i in statement.line_items] == ["LT-FB-3390417", "LT-ETF-3390417", "LT-EQP-3390417"]
    assert statement.payments_and_credits == () and statement.holds == ()
    assert statement.interest_and_fees == Money(0, "USD")
    assert statement.placed_at.tzinfo is not None and statement.flags == ()


def test_statement_accepts_what_consumers_type(demo_ledger):
    for typed in ("BW-10001", "bw-10001", "bw10001", " BW 10001 "):
        assert demo_ledger.statement(typed).account_ref == "BW-10001"


def test_unknown_account(demo_ledger):
    with pytest.raises(AccountNotFound):
        demo_ledger.statement("ZZ-99999")
    with pytest.raises(AccountNotFound):
        demo_ledger.account_json("")


def test_paid_off_account_reads_paid_and_sorts_last(engine, demo_ledger):
    james = demo_ledger.consumer_by_account_ref("NW-20002")
    assert [s.account_ref for s in demo_ledger.accounts_of(james.id)] == ["NW-20002", "CHP-30001"]
    post(engine, "NW-20002", "payment", -29000)
    accounts = demo_ledger.accounts_of(james.id)
    assert [(s.account_ref, s.status) for s in accounts] == [("CHP-30001", "open"), ("NW-20002", "paid")]


def test_holds(engine, demo_ledger):
    hold(engine, "BW-10001", 32500)
    hold(engine, "BW-10001", 1000, released_at=NOW)
    statement = demo_ledger.statement("BW-10001")
    assert [h.amount for h in statement.holds] == [Money(32500, "USD")]
    assert statement.held == Money(32500, "USD")
    assert statement.collectible == Money(45000, "USD")
    assert statement.balance == Money(77500, "USD")  # a hold does not change the balance


# --- account_json ------------------------------------------------------------------------------------


def test_account_json_shape(engine, demo_ledger):
    post(engine, "NW-20001", "payment", -5000, reference="pi_123")
    hold(engine, "NW-20001", 1500)
    view = demo_ledger.account_json("nw20001")
    assert list(view) == ["account_ref", "creditor_id", "currency", "balance_cents", "status", "holds",
                          "disputes", "plans", "payments", "promises"]
    assert view["account_ref"] == "NW-20001" and view["creditor_id"] == "northwind"
    assert view["currency"] == "USD" and view["balance_cents"] == 65235 - 5000 and view["status"] == "open"
    assert view["disputes"] == view["plans"] == view["promises"] == []
    assert view["payments"] == [{"amount_cents": 5000, "posted_at": NOW.isoformat(), "reference": "pi_123",
                                 "description": "payment test", "request_id": None, "purpose": None,
                                 "status": None, "refunded_cents": 0}]
    assert [(h["amount_cents"], h["reason"]) for h in view["holds"]] == [(1500, "dispute")]


# --- consumers and identity --------------------------------------------------------------------------


def test_consumer_by_phone(demo_ledger):
    assert demo_ledger.consumer_by_phone("+14155550101").id == 1
    assert demo_ledger.consumer_by_phone("whatsapp:+13055550102").id == 2
    assert demo_ledger.consumer_by_phone("+19995550100") is None
    assert demo_ledger.consumer_by_phone("") is None


def test_shared_phone_is_ambiguous(engine, demo_ledger):
    with engine.begin() as connection:
        connection.execute(insert(t.consumers).values(
            first_name="Leo", last_name="Thompson", date_of_birth=date(2001, 1, 1), postal_code="94110",
            phone="+14155550101", email=None, language="en", timezone="America/Los_Angeles", created_at=NOW))
    assert demo_ledger.consumer_by_phone("+14155550101") is None


@pytest.mark.parametrize("typed", ["BW-10001", "bw10001", "bw-10001", "Bw 10001", "BW–10001"])
def test_consumer_by_account_ref(demo_ledger, typed):
    consumer = demo_ledger.consumer_by_account_ref(typed)
    assert (consumer.id, consumer.first_name) == (1, "Maya")


@pytest.mark.parametrize("typed", ["BW-10009", "", "---", "10001"])
def test_consumer_by_unknown_account_ref(demo_ledger, typed):
    assert demo_ledger.consumer_by_account_ref(typed) is None


def test_consumer_by_id(demo_ledger):
    lucia = demo_ledger.consumer(2)
    assert (lucia.first_name, lucia.last_name, lucia.email) == ("Lucía", "Hernández", "lucia.hernandez@example.com")
    assert lucia.full_name == "Lucía Hernández"
    with pytest.raises(ConsumerNotFound):
        demo_ledger.consumer(999)


@pytest.mark.parametrize(
    "born, postal, expected",
    [
        (date(1985, 3, 4), "94110", True),
        (date(1985, 3, 4), "94110-2231", True),  # ZIP+4 compares on the first five digits
        (date(1985, 3, 4), " 94110 ", True),
        (date(1985, 4, 3), "94110", False),  # day and month swapped
        (date(1985, 3, 4), "94111", False),
        (date(1985, 3, 4), "", False),
        (date(1985, 3, 4), "9411", False),
    ],
)
def test_identity_matches(demo_ledger, born, postal, expected):
    assert demo_ledger.identity_matches(1, born, postal) is expected


def test_identity_of_unknown_consumer(demo_ledger):
    assert demo_ledger.identity_matches(999, date(1985, 3, 4), "94110") is False


def test_puerto_rico_zip_keeps_its_leading_zero(demo_ledger):
    sofia = demo_ledger.consumer_by_account_ref("SRS-40001")
    assert demo_ledger.identity_matches(sofia.id, date(1992, 5, 30), "00907")


def test_verification_attempts(demo_ledger):
    for minutes, ok in ((50, False), (40, False), (30, True), (10, False)):
        demo_ledger.record_verification_attempt(1, ok, "sms", "+14155550101", NOW - timedelta(minutes=minutes))
    demo_ledger.record_verification_attempt(2, False, "sms", "+13055550102", NOW)
    attempts = demo_ledger.verification_attempts_since(1, NOW - timedelta(minutes=45))
    assert attempts == [
        (NOW - timedelta(minutes=40), False),
        (NOW - timedelta(minutes=30), True),
        (NOW - timedelta(minutes=10), False),
    ]
    assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at, _ in attempts)


def test_timestamps_in_other_zones_come_back_as_utc(demo_ledger):
    eastern = timezone(timedelta(hours=-5))
    demo_ledger.record_verification_attempt(1, True, "webchat", "s1", datetime(2026, 11, 20, 10, 30, tzinfo=eastern))
    (at, _), = demo_ledger.verification_attempts_since(1, NOW - timedelta(hours=1))
    assert at == NOW and at.tzinfo == timezone.utc


def test_naive_timestamps_are_refused(demo_ledger):
    with pytest.raises(Exception) as error:
        demo_ledger.record_verification_attempt(1, True, "sms", "+14155550101", datetime(2026, 1, 1))
    assert "naive datetime" in str(error.value)


# --- consent, handoffs, communications ------------------------------------------------------------


def test_consent_latest_row_wins(ledger):
    assert ledger.consent("sms", "+14155550101") is None
    ledger.record_consent("sms", "+14155550101", False, "STOP", NOW)
    assert ledger.consent("sms", "+14155550101") is False
    ledger.record_consent("sms", "+14155550101", True, "START", NOW + timedelta(minutes=5))
    assert ledger.consent("sms", "+14155550101") is True
    assert ledger.consent("whatsapp", "+14155550101") is None  # per channel
    ledger.record_consent("sms", "+14155550101", False, "late-arriving STOP", NOW + timedelta(minutes=1))
    assert ledger.consent("sms", "+14155550101") is True  # ordered by when it happened


def test_handoffs(ledger):
    transcript = [{"role": "user", "text": "this is not my debt"}, {"role": "bot", "text": "I hear you."}]
    first = ledger.open_handoff("conv-1", "sms", "BW-10001", "dispute_not_mine", transcript, NOW)
    second = ledger.open_handoff("conv-2", "webchat", None, "request_human", [], NOW + timedelta(minutes=1))
    assert isinstance(first, int) and second != first
    queue = ledger.handoffs()
    assert [h["id"] for h in queue] == [first, second]
    assert queue[0] == {
        "id": first, "conversation_id": "conv-1", "channel": "sms", "account_ref": "BW-10001",
        "reason": "dispute_not_mine", "status": "open", "priority": 0, "transcript": transcript,
        "created_at": NOW.isoformat(), "resolved_at": None, "dispute_id": None,
        "assigned_agent": None, "assigned_at": None, "outcome": None, "resolution_note": None,
    }
    assert [h["id"] for h in ledger.handoffs("open")] == [first, second]
    assert ledger.handoffs("resolved") == []


def test_handoff_priority_orders_the_queue(ledger):
    low = ledger.open_handoff("a", "sms", None, "request_human", [], NOW)
    high = ledger.open_handoff("b", "sms", None, "bankruptcy", [], NOW + timedelta(minutes=1), priority=5)
    assert [h["id"] for h in ledger.handoffs()] == [high, low]


def test_card_numbers_never_reach_the_records(engine, ledger):
    ledger.log_communications([Communication("in", "sms", "+14155550101", "conv-1", "BW-10001", "message",
                                             "my card is 4242 4242 4242 4242 exp 12/29", NOW)])
    handoff = ledger.open_handoff("conv-1", "sms", "BW-10001", "request_human",
                                  [{"role": "user", "text": "4000-0000-0000-0002"}], NOW)
    with engine.connect() as connection:
        body = connection.execute(select(t.communications.c.body)).scalar_one()
    assert body == f"my card is {CARD_REDACTION} exp 12/29"
    assert ledger.handoffs()[0]["id"] == handoff
    assert ledger.handoffs()[0]["transcript"] == [{"role": "user", "text": CARD_REDACTION}]


@pytest.mark.parametrize(
    "text, redacted",
    [
        ("4242424242424242", True),
        ("card 4242424242424242 1229 123", True),  # expiry typed right after
        ("call +14155550101", False),  # a phone number is not a card
        ("account BW-10001, invoice 88213", False),
        ("reference 1234567890123", False),  # 13 digits failing Luhn
    ],
)
def test_redact_card_numbers(text, redacted):
    assert (CARD_REDACTION in redact_card_numbers(text)) is redacted


def test_a_logged_message_is_kept_as_given(engine, ledger):
    ledger.log_communications([Communication("out", "webchat", "sess-9", "sess-9", None, "utter_greet", "Hi there", NOW)])
    with engine.connect() as connection:
        row = connection.execute(select(t.communications)).one()
    assert (row.direction, row.channel, row.address, row.conversation_id, row.account_ref, row.kind, row.body) == (
        "out", "webchat", "sess-9", "sess-9", None, "utter_greet", "Hi there")
    assert row.recorded_at == NOW
    with pytest.raises(ValueError):
        ledger.log_communications([Communication("sideways", "sms", "x", "c", None, "k", "b", NOW)])


def test_messages_logged_together_are_kept_in_order_or_not_at_all(ledger):
    said = [Communication("in" if i % 2 else "out", "sms", "+14155550101", "conv-7", None, "message", f"message {i}", NOW)
            for i in range(5)]
    ledger.log_communications(said + [said[0]._replace(body="card 4242 4242 4242 4242")])
    bodies = [r["body"] for r in ledger.communications("conv-7")]
    assert bodies[:5] == [f"message {i}" for i in range(5)] and CARD_REDACTION in bodies[5]
    with pytest.raises(ValueError):
        ledger.log_communications([said[0]._replace(conversation_id="conv-8"), said[1]._replace(direction="sideways")])
    assert ledger.communications("conv-8") == []  # the good one was not written alone


# --- append-only, schema and engines --------------------------------------------------------------


@pytest.mark.parametrize("table", ["ledger_entries", "consents", "verification_attempts", "communications"])
def test_append_only_tables_refuse_update_and_delete(engine, demo_ledger, table):
    demo_ledger.record_consent("sms", "+14155550101", True, "test", NOW)
    demo_ledger.record_verification_attempt(1, True, "sms", "+14155550101", NOW)
    demo_ledger.log_communications([Communication("in", "sms", "+14155550101", "c", None, "message", "hi", NOW)])
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrations_match_the_schema_module(engine):
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), t.metadata)
    # Alembic skips the expression index (it cannot reflect it); everything else must agree.
    assert diffs == []


def test_upgrade_is_idempotent(engine):
    head = head_revision()
    assert current_revision(engine) == head
    assert upgrade(engine) == head


def test_sqlite_engine_setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'deeper' / 'ledger.db'}"
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "nested" / "deeper").is_dir()
    engine.dispose()


def test_concurrent_writers_on_sqlite(tmp_path):
    """Two processes' worth of engines write one file at once; every write lands."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    setup = make_engine(url)
    upgrade(setup)
    errors = []

    def writer(name: str) -> None:
        ledger = SqlLedger(make_engine(url))
        try:
            for i in range(40):
                ledger.log_communications([Communication("in", "sms", name, name, None, "message", f"{i}", NOW)])
                ledger.consent("sms", name)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            ledger.engine.dispose()

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with setup.connect() as connection:
        assert connection.execute(select(func.count()).select_from(t.communications)).scalar_one() == 120
    setup.dispose()


def test_bootstrap_builds_once_from_the_environment(tmp_path, monkeypatch, demo_placements, demo_creditors):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'ledger.db'}")
    for cached in (bootstrap.settings, bootstrap.engine, bootstrap.ledger):
        cached.cache_clear()
    try:
        ledger = bootstrap.ledger()
        assert ledger is bootstrap.ledger() and ledger.engine is bootstrap.engine()
        assert current_revision(ledger.engine) == head_revision()
        assert (tmp_path / "var" / "ledger.db").exists()
    finally:
        bootstrap.engine().dispose()
        for cached in (bootstrap.settings, bootstrap.engine, bootstrap.ledger):
            cached.cache_clear()
