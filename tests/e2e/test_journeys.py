"""Journeys 1-4 over the REST channel against the real Rasa server, action server and ledger."""
from __future__ import annotations

import csv
import time
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from bot.adapters.tracker_window import WINDOW_AT

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MAYA = {"phone": "+14155550101", "ref": "BW-10001", "dob": "3/4/85", "zip": "94110"}
LUCIA = {"phone": "+13055550102", "ref": "NW-20001", "dob": "23 de noviembre de 1979", "zip": "33125"}


def demo_rows():
    with open(ROOT / "demo" / "placements.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def agency_creditor_ids():
    creditors = yaml.safe_load((ROOT / "demo" / "creditors.yml").read_text())
    creditors = creditors.get("creditors", creditors) if isinstance(creditors, dict) else creditors
    return {c["id"] for c in creditors if c["role"] == "agency"}


def secrets_before_verification(stack) -> set:
    """Everything that would disclose a debt: names, references, amounts, line items."""
    words = {"$", "debt collector", "balance of"}
    for row in demo_rows():
        words |= {row["account_ref"], row["item_reference"], row["item_description"]}
        statement = stack.ledger.statement(row["account_ref"])
        words |= {statement.creditor.name, stack.format_money(statement.balance, "en_US"),
                  stack.format_money(statement.balance, "es_US")}
    return words


def assert_discloses_nothing(stack, replies):
    leaked = {word for word in secrets_before_verification(stack) for text in replies if word in text}
    assert not leaked, f"disclosed before verification: {leaked} in {replies}"


def new_session(stack, sender, metadata=None):
    return stack.texts(sender, "/session_start", metadata)


def verify(stack, sender, person, first_message="hi", metadata=None):
    replies = new_session(stack, sender, metadata) + stack.texts(sender, first_message, metadata)
    replies += stack.texts(sender, person["dob"], metadata)
    replies += stack.texts(sender, person["zip"], metadata)
    return replies


def test_nothing_is_disclosed_before_verification(stack):
    sender = MAYA["phone"]
    replies = new_session(stack, sender)
    for message in ("how much do i owe", "who is this from", "what is this for", "whats my balance"):
        replies += stack.texts(sender, message)
    assert_discloses_nothing(stack, replies)
    assert any("date of birth" in text for text in replies)


def test_first_message_of_a_session_carries_the_opt_out_line(stack, sender):
    replies = new_session(stack, sender) + stack.texts(sender, "hello")
    assert "STOP" in replies[0]


def test_verified_consumer_gets_balance_items_and_creditor_matching_the_ledger(stack):
    sender = MAYA["phone"]
    statement = stack.ledger.statement(MAYA["ref"])
    replies = verify(stack, sender, MAYA, first_message="how much do i owe")
    balance = stack.format_money(statement.balance, "en_US")
    assert any("verified" in text for text in replies)
    assert any(balance in text and statement.creditor.name in text for text in replies), replies

    details = stack.texts(sender, "what is this for")
    for item in statement.line_items:
        line = next((text for text in details if item.reference in text), None)
        assert line is not None, f"{item.reference} missing from {details}"
        assert stack.format_money(item.amount, "en_US") in line and item.description in line

    creditor = stack.texts(sender, "who do i owe")
    assert any(statement.creditor.name in text and MAYA["ref"] in text for text in creditor), creditor


def test_spanish_speaker_verifies_with_a_spanish_date_and_reads_amounts_in_es_us(stack):
    sender = LUCIA["phone"]
    statement = stack.ledger.statement(LUCIA["ref"])
    replies = verify(stack, sender, LUCIA, first_message="cuanto debo")
    assert any(stack.format_money(statement.balance, "es_US") in text for text in replies), replies
    assert any("fecha de nacimiento" in text for text in replies), replies


def session_events(stack, sender: str) -> int:
    engine = create_engine(stack.env["TRACKER_STORE_URL"])
    with engine.connect() as connection:
        count = connection.execute(text(
            "SELECT count(*) FROM events WHERE sender_id = :s AND id >= "
            "(SELECT max(id) FROM events WHERE sender_id = :s AND type_name = 'session_started')"), {"s": sender})
        return count.scalar()


def test_a_long_conversation_keeps_its_language_and_verification(stack):
    # Past 40 turns the server keeps only the latest turns between messages (bot/adapters/tracker_window.py).
    sender = LUCIA["phone"]
    statement = stack.ledger.statement(LUCIA["ref"])
    verify(stack, sender, LUCIA, first_message="cuanto debo")
    balance = stack.format_money(statement.balance, "es_US")
    for _ in range(60):
        assert any(balance in text for text in stack.texts(sender, "cuanto debo"))
    assert session_events(stack, sender) > WINDOW_AT  # long enough to be kept as a window
    details = stack.texts(sender, "para que es esta deuda")
    assert all(any(item.reference in text for text in details) for item in statement.line_items), details
    assert not any("fecha de nacimiento" in text for text in details), details


def test_three_wrong_answers_lock_verification_and_offer_a_person(stack):
    consumer = next(r for r in demo_rows() if r["account_ref"] not in (MAYA["ref"], LUCIA["ref"])
                    and r["creditor_id"] not in agency_creditor_ids())
    sender = consumer["phone"]
    replies = new_session(stack, sender) + stack.texts(sender, "what do i owe")
    for _ in range(3):
        replies += stack.texts(sender, "1/1/1970") + stack.texts(sender, "00000")
    assert_discloses_nothing(stack, replies)
    assert sum("don't match" in text for text in replies) == 2
    assert any("can't confirm your identity" in text for text in replies[-2:]), replies[-3:]

    # Locked across sessions, even with the right answers.
    dob = consumer["date_of_birth"]
    year, month, day = dob.split("-")
    replies = new_session(stack, sender) + stack.texts(sender, "balance")
    assert any("can't confirm your identity" in text for text in replies), replies
    assert not any("date of birth" in text for text in replies)
    assert_discloses_nothing(stack, replies + stack.texts(sender, f"{month}/{day}/{year}"))


def test_a_new_session_asks_to_verify_again(stack):
    sender = MAYA["phone"]
    verify(stack, sender, MAYA)
    replies = new_session(stack, sender) + stack.texts(sender, "how much do i owe")
    assert any("date of birth" in text for text in replies)
    assert_discloses_nothing(stack, replies)


def test_web_visitor_without_a_personal_link_must_prove_the_phone_before_anything(stack, sender):
    replies = new_session(stack, sender) + stack.texts(sender, f"my account is {MAYA['ref']} how much do i owe")
    assert any("text message" in text and "email" in text for text in replies), replies  # where to send it?
    replies += stack.texts(sender, "text message")
    assert any("texted a 6-digit code" in text and "ending in 01" in text for text in replies), replies
    assert not any("date of birth" in text for text in replies)
    replies += stack.texts(sender, "123456") + stack.texts(sender, "how much do i owe")
    assert not any("date of birth" in text for text in replies)  # no code, no verification
    assert_discloses_nothing(stack, replies)


def test_a_reference_that_matches_nobody_gets_the_same_answer(stack, sender):
    replies = new_session(stack, sender) + stack.texts(sender, "my account is ZZ-99999 how much do i owe")
    assert any("text message" in text and "email" in text for text in replies), replies
    by_text = stack.texts(sender, "text message")
    assert any("texted a 6-digit code" in text for text in by_text), by_text
    other = f"web-other-{sender}"
    new_session(stack, other)
    stack.texts(other, "my account is ZZ-99999 how much do i owe")
    by_email = stack.texts(other, "email")
    assert any("emailed a 6-digit code to" in text and "•••@" in text for text in by_email), by_email


def test_personal_link_identifies_a_web_visitor_who_then_verifies(stack, sender):
    metadata = {"link_token": stack.link_token(MAYA["ref"])}
    replies = verify(stack, sender, MAYA, first_message="whats my balance", metadata=metadata)
    statement = stack.ledger.statement(MAYA["ref"])
    assert any(stack.format_money(statement.balance, "en_US") in text for text in replies), replies


def test_forged_personal_link_identifies_nobody(stack, sender):
    token = stack.link_token(MAYA["ref"])
    forged = token.replace("BW-10001", "NW-20001")
    replies = new_session(stack, sender, {"link_token": forged})
    replies += stack.texts(sender, "balance", {"link_token": forged})
    assert any("personal link" in text for text in replies)


def test_agency_account_carries_the_debt_collector_disclosure(stack, sender):
    row = next(r for r in demo_rows() if r["creditor_id"] in agency_creditor_ids())
    year, month, day = row["date_of_birth"].split("-")
    person = {"dob": f"{month}/{day}/{year}", "zip": row["postal_code"]}
    metadata = {"link_token": stack.link_token(row["account_ref"])}
    replies = verify(stack, sender, person, first_message="who is this", metadata=metadata)
    replies += stack.texts(sender, "who do i owe", metadata)
    assert any("This is a communication from a debt collector." in t or "cobrador de deudas" in t
               for t in replies), replies


def test_opt_out_and_back_in_are_recorded_as_consents(stack, sender):
    new_session(stack, sender)
    assert any("STOP" in t or "START" in t for t in stack.texts(sender, "STOP"))
    assert stack.ledger.consent("webchat", sender) is False
    stack.texts(sender, "START")
    assert stack.ledger.consent("webchat", sender) is True


def test_asking_for_a_person_records_a_handoff(stack):
    sender = f"web-{uuid.uuid4().hex[:8]}"
    new_session(stack, sender)
    replies = stack.texts(sender, "i want to talk to a real person")
    assert any("person on our team" in text for text in replies), replies
    assert any(h["conversation_id"] == sender for h in stack.ledger.handoffs())


def test_are_you_a_robot_gets_an_honest_answer(stack, sender):
    new_session(stack, sender)
    assert any("automated assistant" in text for text in stack.texts(sender, "r u a robot"))


def test_two_misses_in_a_row_offer_a_person(stack, sender):
    new_session(stack, sender)
    first = stack.texts(sender, "recommend me a good pizza place")
    second = stack.texts(sender, "who won the game last night")
    assert any("can't help with that" in text for text in first), first
    assert any("talk to a person" in text for text in second), second


def test_the_communications_record_keeps_messages_but_not_identity_answers(stack, sender):
    metadata = {"link_token": stack.link_token(MAYA["ref"])}
    verify(stack, sender, MAYA, first_message="how much do i owe", metadata=metadata)
    balance = stack.format_money(stack.ledger.statement(MAYA["ref"]).balance, "en_US")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the record is written just after the reply
        bodies = [r["body"] for r in stack.ledger.communications(sender)]
        if any(balance in body for body in bodies):
            break
        time.sleep(0.2)
    assert "how much do i owe" in bodies and any(balance in body for body in bodies), bodies
    assert not any(MAYA["dob"] in body or MAYA["zip"] in body for body in bodies), bodies
