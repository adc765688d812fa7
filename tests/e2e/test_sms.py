"""SMS, WhatsApp and web chat identity end to end: signed Twilio webhooks into the running stack, replies
read back from the local fake of Twilio's API, reminders sent by the operator's command."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from bot.ledger.messaging import SqlMessaging
from tests.e2e.twilio_stack import Phone, bot

pytestmark = pytest.mark.e2e

# Consumers of this module only, so no other test's conversation shares their phone numbers.
JORDAN = {"ref": "BW-70001", "phone": "+15550107001", "dob": "7/14/1988", "zip": "60614", "first": "Jordan"}
PRIYA = {"ref": "SRS-70002", "phone": "+15550107002", "dob": "2/9/1979", "zip": "02139", "first": "Priya"}


def daytime_zone() -> str:
    """A zone where it is about noon now, so the reminder's quiet hours never depend on when CI runs."""
    offset = 12 - datetime.now(timezone.utc).hour  # local = UTC + offset, between -11 and +12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs


@pytest.fixture(scope="module")
def consumers(stack, tmp_path_factory):
    zone = daytime_zone()
    csv = tmp_path_factory.mktemp("placements") / "sms.csv"
    csv.write_text(
        "creditor_id,account_ref,first_name,last_name,date_of_birth,postal_code,phone,email,language,timezone,"
        "currency,item_date,item_reference,item_description,item_amount\n"
        f"brightwork,{JORDAN['ref']},Jordan,Reyes,1988-07-14,{JORDAN['zip']},{JORDAN['phone']},jordan@example.com,"
        f"en,{zone},USD,2026-06-02,BW-INV-70001,Invoice BW-INV-70001 – website copy,380.00\n"
        f"summit,{PRIYA['ref']},Priya,Nair,1979-02-09,{PRIYA['zip']},{PRIYA['phone']},priya@example.com,"
        f"en,{zone},USD,2026-04-10,LT-70002,Phone service April 2026,96.20\n"
    )
    done = bot(stack, "import-placements", str(csv), "--creditors", "demo/creditors.yml")
    assert done.returncode == 0, done.stderr
    return {"jordan": JORDAN, "priya": PRIYA}


def balance_of(stack, ref: str) -> str:
    return stack.format_money(stack.ledger.statement(ref).balance, "en_US")


def test_an_sms_conversation_reaches_a_verified_balance(stack, consumers):
    phone = Phone(stack, JORDAN["phone"])
    first = phone.text("how much do i owe")
    assert "Reply STOP to stop texts to this number." in first[0]  # the session's first message
    assert any("date of birth" in text for text in first), first
    assert not any(balance_of(stack, JORDAN["ref"]) in text for text in first)
    phone.text(JORDAN["dob"])
    replies = phone.text(JORDAN["zip"])
    assert any("verified" in text for text in replies), replies
    assert any(balance_of(stack, JORDAN["ref"]) in text and "Brightwork" in text for text in replies), replies
    # Buttons arrive as numbered choices, and a number answers them.
    menu = phone.text("hi")
    assert any("1. What do I owe?" in text for text in menu), menu
    number = next(line.split(".")[0] for text in menu for line in text.splitlines() if "Who is it owed to?" in line)
    owed = phone.text(number)
    assert any(JORDAN["ref"] in text for text in owed), owed


def test_stop_suppresses_a_reminder_and_start_allows_it_again(stack, consumers):
    phone = Phone(stack, JORDAN["phone"])
    stopped = phone.text("STOP")
    assert len(stopped) == 1 and "unsubscribed" in stopped[0]  # one confirmation
    assert stack.ledger.consent("sms", JORDAN["phone"]) is False

    texts_before = len(phone.received())
    reminder = bot(stack, "remind", JORDAN["ref"], "--json")
    assert reminder.returncode == 0, reminder.stderr
    assert json.loads(reminder.stdout)["status"] == "suppressed"
    assert len(phone.received()) == texts_before  # nothing reached Twilio
    log = json.loads(bot(stack, "outbound-log", JORDAN["ref"], "--json").stdout)
    assert (log[-1]["status"], log[-1]["reason"], log[-1]["purpose"]) == ("suppressed", "opted_out",
                                                                         "payment_reminder")

    started = phone.text("START")
    assert len(started) == 1 and "subscribed again" in started[0]
    sent = json.loads(bot(stack, "remind", JORDAN["ref"], "--json").stdout)
    assert sent["status"] == "sent", sent
    reminder_text = "\n".join(phone.received()[texts_before + 1:])
    assert reminder_text.startswith("Hi Jordan, this is Resolve with a reminder about your account.")
    assert f"{stack.env['PUBLIC_URL']}/chat?t=" in reminder_text
    assert reminder_text.endswith("Reply STOP to stop texts to this number.")
    assert balance_of(stack, JORDAN["ref"]) not in reminder_text  # a text others may read discloses no debt
    attempts = SqlMessaging(stack.ledger.engine).attempts(account_ref=JORDAN["ref"])
    assert [(a.status, a.reason) for a in attempts][-2:] == [("suppressed", "opted_out"), ("sent", "allowed")]


def test_an_agency_account_gets_a_neutral_redirect_on_sms(stack, consumers):
    phone = Phone(stack, PRIYA["phone"])
    replies = phone.text("how much do i owe") + phone.text("who is this from")
    assert any("secure web chat" in text for text in replies), replies
    statement = stack.ledger.statement(PRIYA["ref"])
    for secret in (PRIYA["ref"], statement.creditor.name, "Lakeview", balance_of(stack, PRIYA["ref"]),
                   "debt collector", "date of birth"):
        assert not any(secret in text for text in replies), (secret, replies)
    assert json.loads(bot(stack, "remind", PRIYA["ref"], "--json").stdout)["reason"] == "channel_not_allowed"


def test_whatsapp_messages_get_whatsapp_replies(stack, consumers):
    phone = Phone(stack, JORDAN["phone"], channel="whatsapp")
    replies = phone.text("hello")
    assert replies and "Reply STOP to stop messages to this number." in replies[0]
    assert stack.twilio.messages(f"whatsapp:{JORDAN['phone']}")[0].from_ == "whatsapp:+15005550006"


def test_a_web_visitor_proves_the_phone_with_a_code_then_verifies(stack, consumers, sender):
    stack.texts(sender, "/session_start")
    route = stack.send(sender, f"my account is {JORDAN['ref']} whats my balance")
    assert any("text message" in m.get("text", "") and "email" in m.get("text", "") for m in route), route
    assert [b["payload"] for m in route for b in m.get("buttons", [])] == ["text message", "email"]
    asked = stack.texts(sender, "text message")
    assert any("ending in 01" in text for text in asked), asked  # +15550107001: only the last two digits
    assert not any("date of birth" in text or balance_of(stack, JORDAN["ref"]) in text for text in asked)
    code_text = Phone(stack, JORDAN["phone"]).received()[-1]
    code = re.search(r"\b(\d{6})\b", code_text).group(1)
    wrong = stack.texts(sender, "000000" if code != "000000" else "111111")
    assert any("isn't right" in text for text in wrong), wrong
    confirmed = stack.texts(sender, code)
    assert any("code is right" in text for text in confirmed) and any("date of birth" in t for t in confirmed)
    stack.texts(sender, JORDAN["dob"])
    replies = stack.texts(sender, JORDAN["zip"])
    assert any(balance_of(stack, JORDAN["ref"]) in text for text in replies), replies


def test_a_web_visitor_can_have_the_code_emailed_instead(stack, consumers, sender):
    stack.texts(sender, "/session_start")
    stack.texts(sender, JORDAN["ref"])
    texts_before, mails_before = len(Phone(stack, JORDAN["phone"]).received()), len(stack.mail.messages)
    asked = stack.texts(sender, "email")
    assert any("emailed a 6-digit code to j•••@e•••" in text for text in asked), asked
    [mail] = stack.mail.messages[mails_before:]
    assert (mail["To"], mail["Subject"]) == ("jordan@example.com", "Your Resolve code")
    assert len(Phone(stack, JORDAN["phone"]).received()) == texts_before  # nothing texted
    code = re.search(r"\b(\d{6})\b", mail.get_content()).group(1)
    confirmed = stack.texts(sender, code)
    assert any("code is right" in text for text in confirmed) and any("date of birth" in t for t in confirmed)


def test_one_consumer_sees_the_same_account_on_sms_and_on_web_chat(stack, consumers, sender):
    balance = balance_of(stack, JORDAN["ref"])
    phone = Phone(stack, JORDAN["phone"])
    on_sms = phone.text("how much do i owe")
    if any("date of birth" in text for text in on_sms):  # this SMS session is not verified yet
        phone.text(JORDAN["dob"])
        on_sms = phone.text(JORDAN["zip"])
    link = {"link_token": stack.link_token(JORDAN["ref"])}
    on_web = stack.texts(sender, "/session_start", link) + stack.texts(sender, "how much do i owe", link)
    assert not any(balance in text for text in on_web)  # a new conversation verifies again
    stack.texts(sender, JORDAN["dob"], link)
    on_web = stack.texts(sender, JORDAN["zip"], link)
    assert any(balance in text for text in on_sms) and any(balance in text for text in on_web)
