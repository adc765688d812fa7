"""Journeys 9-13 over the REST channel with the real stack: disputes, already paid, special circumstances.

Each test has consumers of its own (imported here), so holds and flags never leak between tests.
Steps that need a particular intent send what the web chat's buttons send; one dispute is typed.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.ledger.disputes import SqlDisputes
from bot.services.disputes import Disputes
from tests.e2e.twilio_stack import bot

pytestmark = pytest.mark.e2e

DOB, ZIP = "5/17/1990", "30301"
HEADER = ("creditor_id,account_ref,first_name,last_name,date_of_birth,postal_code,phone,email,language,timezone,"
          "currency,item_date,item_reference,item_description,item_amount\n")
# name: (creditor, language)
CONSUMERS = {
    "not_mine": ("brightwork", "en"), "wrong_amount": ("brightwork", "en"), "service": ("brightwork", "en"),
    "fraud": ("brightwork", "en"), "typed": ("brightwork", "en"), "resumed": ("brightwork", "en"),
    "kind": ("brightwork", "en"), "paused": ("brightwork", "en"), "paid": ("brightwork", "en"),
    "bankruptcy": ("brightwork", "en"), "attorney_represented": ("brightwork", "en"),
    "deceased": ("brightwork", "en"), "cease_communication": ("brightwork", "en"),
    "spanish": ("northwind", "es"), "agency": ("summit", "en"),
}
PERSON = {name: {"ref": f"DSP-{81000 + i}", "phone": f"+1555010{8100 + i}", "creditor": creditor, "language": language}
          for i, (name, (creditor, language)) in enumerate(CONSUMERS.items())}


def daytime_zone() -> str:
    """A zone where it is about noon now, so a reminder is never held back by quiet hours."""
    offset = 12 - datetime.now(timezone.utc).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@pytest.fixture(scope="module")
def people(stack, tmp_path_factory):
    zone = daytime_zone()
    rows = [f"{p['creditor']},{p['ref']},Dana,Lee{i},1990-05-17,{ZIP},{p['phone']},dana{i}@example.com,{p['language']},"
            f"{zone},USD,2026-06-02,INV-{p['ref']},Invoice {p['ref']} – design work,400.00\n"
            for i, p in enumerate(PERSON.values())]
    csv = tmp_path_factory.mktemp("placements") / "disputes.csv"
    csv.write_text(HEADER + "".join(rows))
    done = bot(stack, "import-placements", str(csv), "--creditors", "demo/creditors.yml")
    assert done.returncode == 0, done.stderr
    return PERSON


@pytest.fixture(scope="module")
def disputes(stack):
    return Disputes(SqlDisputes(stack.ledger.engine))


def verified(stack, person) -> str:
    sender = person["phone"]  # an E.164 sender identifies the consumer on the REST channel
    stack.texts(sender, "hi")
    stack.texts(sender, DOB)
    replies = stack.texts(sender, ZIP)
    assert any("verified" in text or "verific" in text for text in replies), replies
    return sender


def joined(replies) -> str:
    return "\n".join(replies)


def handoffs_of(stack, ref):
    return [h for h in stack.ledger.handoffs() if h["account_ref"] == ref]


@pytest.mark.parametrize("name, payload", [
    ("not_mine", "/dispute_not_mine"),  # it isn't mine
    ("wrong_amount", "/dispute_amount"),  # the amount is wrong
    ("service", "/dispute_service"),  # the service was not delivered
    ("fraud", '/dispute_not_mine{"dispute_kind": "fraud"}'),  # fraud or identity theft (the button)
])
def test_each_dispute_reason_creates_a_dispute_a_hold_and_a_handoff(stack, people, name, payload):
    person = people[name]
    sender = verified(stack, person)
    replies = joined(stack.texts(sender, payload))
    assert "recorded your dispute" in replies and "$400.00 on hold" in replies, replies
    assert "payment protection doesn't cover" in replies  # Brightwork's policy adds information, never refuses
    account = stack.ledger.account_json(person["ref"])
    [dispute] = account["disputes"]
    assert (dispute["reason"], dispute["status"], dispute["amount_cents"]) == (name, "open", 40000)
    assert [h["amount_cents"] for h in account["holds"]] == [40000] and dispute["hold_id"] == account["holds"][0]["id"]
    [handoff] = handoffs_of(stack, person["ref"])
    assert handoff["dispute_id"] == dispute["id"] and handoff["reason"] == f"dispute:{name}"
    assert handoff["priority"] > 0


def test_a_typed_dispute_keeps_the_consumers_words(stack, people):
    person = people["typed"]
    sender = verified(stack, person)
    words = "this is not my debt, I never hired anyone on Brightwork"
    replies = joined(stack.texts(sender, words))
    assert "recorded your dispute" in replies, replies
    [dispute] = stack.ledger.account_json(person["ref"])["disputes"]
    assert dispute["consumer_words"] == words and dispute["reason"] in ("not_mine", "other")


def test_a_dispute_before_verification_is_recorded_once_verified(stack, people):
    person = people["resumed"]
    sender = person["phone"]
    first = joined(stack.texts(sender, "/dispute_amount"))
    assert "$400.00" not in first and "date of birth" in first  # nothing disclosed before verification
    stack.texts(sender, DOB)
    replies = joined(stack.texts(sender, ZIP))
    assert "recorded your dispute" in replies, replies
    [dispute] = stack.ledger.account_json(person["ref"])["disputes"]
    assert dispute["reason"] == "wrong_amount" and DOB not in dispute["consumer_words"]


def test_a_dispute_of_unknown_kind_asks_which_with_buttons(stack, people):
    person = people["kind"]
    sender = verified(stack, person)
    [question] = stack.send(sender, "/dispute_debt")
    assert "what is it about" in question["text"]
    assert [b["payload"] for b in question["buttons"]][:4] == [
        "/dispute_not_mine", "/dispute_amount", "/claim_already_paid", "/dispute_service"]
    stack.texts(sender, "/dispute_service")
    assert stack.ledger.account_json(person["ref"])["disputes"][0]["reason"] == "service"


def test_payment_offers_and_reminders_stop_for_a_disputed_account_and_the_status_is_answered(stack, people):
    person = people["paused"]
    sender = verified(stack, person)
    stack.texts(sender, "/dispute_not_mine")
    for offer in ("/make_payment", "/request_settlement", "/request_payment_plan", "/promise_to_pay"):
        replies = joined(stack.texts(sender, offer))
        assert "While we look into your dispute" in replies, (offer, replies)
        assert "/pay/" not in replies
    status = joined(stack.texts(sender, "/ask_dispute_status"))
    assert "is being reviewed" in status and "$400.00" in status, status

    reminder = bot(stack, "remind", person["ref"], "--channel", "sms", "--json")
    assert json.loads(reminder.stdout)["status"] == "suppressed", reminder.stdout
    assert json.loads(reminder.stdout)["reason"] == "on_hold"


def test_already_paid_looks_for_the_payment_then_records_the_claim(stack, people, disputes):
    person = people["paid"]
    sender = verified(stack, person)
    assert "When did you pay" in joined(stack.texts(sender, "/claim_already_paid"))
    assert "How much did you pay" in joined(stack.texts(sender, "November 2"))
    assert "How did you pay" in joined(stack.texts(sender, "$150"))
    replies = joined(stack.texts(sender, "bank transfer"))
    assert "passed it to our payments team" in replies and "$150.00 on hold" in replies, replies
    [claim] = disputes.payment_claims(person["ref"])
    assert (claim.amount.minor, claim.method, claim.paid_on.month, claim.paid_on.day) == (15000, "bank transfer", 11, 2)
    [dispute] = stack.ledger.account_json(person["ref"])["disputes"]
    assert dispute["reason"] == "already_paid" and dispute["amount_cents"] == 15000
    [handoff] = handoffs_of(stack, person["ref"])
    assert handoff["reason"] == "payment_claim" and claim.handoff_id == handoff["id"]


@pytest.mark.parametrize("intent, flag, confirmation", [
    ("bankruptcy", "bankruptcy", "bankruptcy"),
    ("attorney_represented", "attorney", "attorney"),
    ("deceased", "deceased", "sorry for your loss"),
    ("cease_communication", "cease_communication", "stopped collection messages"),
])
def test_each_special_circumstance_stops_collection_messages(stack, people, disputes, intent, flag, confirmation):
    person = people[intent]
    sender = verified(stack, person)
    replies = joined(stack.texts(sender, f"/{intent}"))
    assert confirmation in replies, replies
    assert disputes.collection_stopped(person["ref"]) == flag
    assert handoffs_of(stack, person["ref"])[0]["reason"] == flag

    reminder = json.loads(bot(stack, "remind", person["ref"], "--channel", "sms", "--json").stdout)
    assert (reminder["status"], reminder["reason"]) == ("suppressed", f"collection_stopped:{flag}")
    log = json.loads(bot(stack, "outbound-log", person["ref"], "--json").stdout)
    assert log[0]["status"] == "suppressed" and log[0]["reason"] == f"collection_stopped:{flag}"
    paused = joined(stack.texts(sender, "/make_payment"))
    assert "not asking for any payment" in paused and "/pay/" not in paused, paused


def test_a_spanish_consumer_hears_it_in_spanish(stack, people):
    person = people["spanish"]
    sender = verified(stack, person)
    replies = joined(stack.texts(sender, "/dispute_not_mine"))
    assert "Registré su disputa" in replies, replies


def test_an_agency_account_always_takes_the_dispute(stack, people):
    person = people["agency"]
    sender = verified(stack, person)
    replies = joined(stack.texts(sender, "/dispute_not_mine"))
    assert "recorded your dispute" in replies and "payment protection" not in replies, replies
    assert stack.ledger.account_json(person["ref"])["disputes"][0]["status"] == "open"
