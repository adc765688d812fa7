"""Web chat one-time codes on the real ledger: sent to the phone or email on file, hashed, limited, and
telling nothing about whether a reference exists."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.adapters.email_sender import SandboxMailbox, SmtpSender
from bot.ledger.messaging import SqlMessaging
from bot.ledger.schema_messaging import one_time_codes
from bot.services.one_time_codes import OneTimeCodes
from bot.services.outbound import OutboundService
from tests.integration.test_outbound import MAYA, Clock, NOON_IN_LOS_ANGELES, catalogs, make_service  # noqa: F401
from tests.smtp_fake import SmtpServer
from tests.twilio_fakes import RecordingTransport

SECRET = "codes-test-secret"


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON_IN_LOS_ANGELES)


@pytest.fixture
def codes(demo_ledger, catalogs, clock, transport) -> OneTimeCodes:  # noqa: F811
    outbound = make_service(demo_ledger, catalogs, clock, transport)
    numbers = (f"{n:06d}" for n in itertools.count(482913, 1111))
    return OneTimeCodes(demo_ledger, outbound.messaging, outbound, SECRET, clock=clock,
                        make_code=lambda: next(numbers))


async def test_a_code_goes_to_the_phone_on_file_and_confirms_the_consumer(codes, transport, demo_ledger):
    request = await codes.request("web-1", "bw10001")  # typed the way people type it
    assert (request.outcome, request.hint) == ("sent", "01")
    [sent] = transport.sent
    assert sent.to == MAYA and sent.body.startswith("Your Resolve code is 482913.")
    checked = await codes.check("web-1", "482913")
    maya = demo_ledger.consumer_by_phone(MAYA)
    assert (checked.outcome, checked.consumer_id, checked.account_ref) == ("confirmed", maya.id, "BW-10001")
    assert (await codes.check("web-1", "482913")).outcome == "expired"  # used once


async def test_the_code_is_stored_hashed_and_kept_out_of_the_outbound_record(codes, engine):
    await codes.request("web-1", "BW-10001")
    with engine.connect() as connection:
        stored = connection.execute(select(one_time_codes.c.code_hash)).scalar_one()
    assert "482913" not in stored and len(stored) == 64
    [logged] = codes.messaging.attempts(address=MAYA)
    assert "482913" not in logged.body and (logged.purpose, logged.status) == ("one_time_code", "sent")


async def test_a_reference_that_matches_nobody_gets_the_same_answer_and_no_code(codes, transport):
    first = await codes.request("web-2", "ZZ-99999")
    again = await codes.request("web-3", "zz99999")
    assert first.outcome == again.outcome == "sent"
    assert len(first.hint) == 2 and first.hint.isdigit()
    assert first.hint == again.hint  # stable, so repeating it reveals nothing either
    assert transport.sent == []
    assert (await codes.check("web-2", "482913")).outcome == "wrong"


async def test_wrong_guesses_count_down_then_lock_the_code(codes):
    await codes.request("web-1", "BW-10001")
    lefts = [(await codes.check("web-1", "000000")).attempts_left for _ in range(4)]
    assert lefts == [4, 3, 2, 1]
    assert (await codes.check("web-1", "000000")).outcome == "locked"
    assert (await codes.check("web-1", "482913")).outcome == "locked"  # even the right code, now


async def test_a_code_expires_after_ten_minutes(codes, clock):
    await codes.request("web-1", "BW-10001")
    clock.now += timedelta(minutes=10, seconds=1)
    assert (await codes.check("web-1", "482913")).outcome == "expired"


async def test_a_code_works_only_in_the_conversation_that_asked_for_it(codes):
    await codes.request("web-1", "BW-10001")
    assert (await codes.check("web-other", "482913")).outcome == "none"


async def test_code_requests_are_rate_limited_per_conversation(codes, transport):
    outcomes = [(await codes.request("web-1", "BW-10001")).outcome for _ in range(4)]
    assert outcomes == ["sent", "sent", "sent", "rate_limited"]
    assert len(transport.sent) == 3


async def test_a_consumer_is_not_texted_more_than_three_codes_an_hour_whoever_asks(codes, transport, clock):
    outcomes = [(await codes.request(f"web-{n}", "BW-10001")).outcome for n in range(5)]
    assert outcomes == ["sent"] * 5  # the same answer to everyone: nothing to learn from it
    assert len(transport.sent) == 3
    clock.now += timedelta(hours=1, minutes=1)
    await codes.request("web-9", "BW-10001")
    assert len(transport.sent) == 4


async def test_an_opted_out_phone_gets_no_code_and_the_visitor_learns_nothing(codes, transport, demo_ledger, clock):
    demo_ledger.record_consent("sms", MAYA, False, "STOP", clock.now)
    request = await codes.request("web-1", "BW-10001")
    assert (request.outcome, request.hint) == ("sent", "01") and transport.sent == []
    assert [(a.status, a.reason) for a in codes.messaging.attempts(address=MAYA)] == [("suppressed", "opted_out")]


# --- by email: a real SMTP conversation with a server the test starts, or the sandbox mailbox ------------


@pytest.fixture
def smtp_server():
    with SmtpServer(credentials=("resolve", "p@ss word")) as server:
        yield server


def email_codes(ledger, catalogs, clock, email_sender):  # noqa: F811
    outbound = OutboundService(ledger, SqlMessaging(ledger.engine), catalogs, {"email": email_sender}, clock=clock)
    numbers = (f"{n:06d}" for n in itertools.count(482913, 1111))
    return OneTimeCodes(ledger, outbound.messaging, outbound, SECRET, clock=clock, make_code=lambda: next(numbers))


# Who asks -> the email on file, and the language of the email.
@pytest.mark.parametrize("reference, email, hint, subject, opening", [
    ("BW-10001", "maya.thompson@example.com", "m•••@e•••", "Your Resolve code", "Your Resolve code is 482913."),
    ("NW-20001", "lucia.hernandez@example.com", "l•••@e•••", "Su código de Resolve", "Su código de Resolve es 482913."),
])
async def test_a_code_by_email_goes_through_smtp_to_the_email_on_file(  # noqa: F811 (fixtures)
        demo_ledger, catalogs, clock, smtp_server, reference, email, hint, subject, opening):
    sender = SmtpSender(f"smtp://resolve:p%40ss%20word@127.0.0.1:{smtp_server.port}", "Resolve <codes@resolve.example>")
    codes = email_codes(demo_ledger, catalogs, clock, sender)
    request = await codes.request("web-1", reference, route="email")
    assert (request.outcome, request.hint, request.route) == ("sent", hint, "email")
    [message] = smtp_server.messages
    assert smtp_server.envelopes == [("codes@resolve.example", [email])]
    assert smtp_server.logins == ["resolve"]  # the credentials from SMTP_URL, decoded
    assert (message["To"], message["Subject"]) == (email, subject)
    assert message.get_content().startswith(opening)
    [logged] = codes.messaging.attempts(address=email)
    assert (logged.channel, logged.status, logged.reason, logged.provider_id) == (
        "email", "sent", "requested", message["Message-ID"])
    assert "482913" not in logged.body  # the code is kept out of the record
    assert (await codes.check("web-1", "482913")).outcome == "confirmed"


async def test_without_smtp_the_code_lands_in_the_sandbox_mailbox(demo_ledger, catalogs, clock, tmp_path):  # noqa: F811
    mailbox = SandboxMailbox(tmp_path / "mail")
    codes = email_codes(demo_ledger, catalogs, clock, mailbox)
    await codes.request("web-1", "BW-10001", route="email")
    [message] = mailbox.messages()
    assert message["To"] == "maya.thompson@example.com" and "482913" in message.get_content()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


async def test_an_unknown_reference_by_email_gets_the_same_answer_and_nothing_is_sent(  # noqa: F811 (fixtures)
        demo_ledger, catalogs, clock, smtp_server):
    codes = email_codes(demo_ledger, catalogs, clock, SmtpSender(smtp_server.url))
    first = await codes.request("web-2", "ZZ-99999", route="email")
    again = await codes.request("web-3", "zz99999", route="email")
    assert first.outcome == "sent" and first.hint == again.hint and "•••@" in first.hint
    assert smtp_server.messages == []
    assert (await codes.check("web-2", "482913")).outcome == "wrong"


async def test_an_unreachable_smtp_server_is_recorded_and_the_visitor_learns_nothing(  # noqa: F811 (fixtures)
        demo_ledger, catalogs, clock):
    from tests.twilio_fakes import free_port

    codes = email_codes(demo_ledger, catalogs, clock, SmtpSender(f"smtp://127.0.0.1:{free_port()}"))
    request = await codes.request("web-1", "BW-10001", route="email")
    assert request.outcome == "sent"
    [logged] = codes.messaging.attempts(address="maya.thompson@example.com")
    assert (logged.status, logged.reason) == ("failed", "provider_error:ConnectionRefusedError")
