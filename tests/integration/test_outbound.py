"""The outbound messaging service on the real ledger (SQLite and PostgreSQL), the real catalogs and the
real twilio-python client, whose transport records what would reach Twilio."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.twilio_sender import TwilioSender
from bot.domain.segments import segment_count
from bot.ledger.importer import import_placements
from bot.ledger.messaging import SqlMessaging
from bot.messaging_config import MessagingConfig, Template
from bot.services.outbound import OutboundMessage, OutboundService
from bot.translations import Catalogs, compile_catalogs
from tests.twilio_fakes import ACCOUNT_SID, AUTH_TOKEN, RecordingTransport

ROOT = Path(__file__).resolve().parents[2]
OUR_NUMBER = "+15005550006"
MAYA = "+14155550101"  # BW-10001, Brightwork (first party), America/Los_Angeles, English
LUCIA = "+13055550102"  # NW-20001, Northwind (first party), America/New_York, Spanish
SOFIA = "+17875550104"  # SRS-40001, Summit Recovery (agency, web chat only)
NOON_IN_LOS_ANGELES = datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)
TEMPLATE_SID = "HX" + "a" * 32


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory) -> Catalogs:
    compiled = tmp_path_factory.mktemp("compiled")
    compile_catalogs(ROOT, output_dir=compiled)
    return Catalogs(ROOT, compiled_dir=compiled)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON_IN_LOS_ANGELES)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


def make_service(ledger, catalogs, clock, transport, **options) -> OutboundService:
    senders = {
        channel: TwilioSender(ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, channel, http_client=transport)
        for channel in ("sms", "whatsapp")
    }
    options.setdefault("link_for", lambda ref, language: f"https://chat.example.com/chat?t=signed-{ref}&lang={language}")
    return OutboundService(ledger, SqlMessaging(ledger.engine), catalogs, senders, clock=clock, **options)


@pytest.fixture
def service(demo_ledger, catalogs, clock, transport) -> OutboundService:
    return make_service(demo_ledger, catalogs, clock, transport)


def attempts(service, ref):
    return [(a.status, a.reason) for a in service.messaging.attempts(account_ref=ref)]


async def test_a_reminder_goes_out_with_the_link_and_the_opt_out_line(service, transport):
    decision = await service.remind("BW-10001")
    assert (decision.status, decision.reason, decision.channel, decision.address) == ("sent", "allowed", "sms", MAYA)
    [sent] = transport.sent
    assert (sent.to, sent.from_) == (MAYA, OUR_NUMBER)
    assert sent.body.startswith("Hi Maya, this is Resolve with a reminder about your account.")
    assert "https://chat.example.com/chat?t=signed-BW-10001&lang=en" in sent.body
    assert sent.body.endswith("Reply STOP to stop texts to this number.")
    assert "$" not in sent.body and "Brightwork" not in sent.body  # a reminder discloses no debt details
    [logged] = service.messaging.attempts(account_ref="BW-10001")
    assert (logged.purpose, logged.provider_id, logged.body) == ("payment_reminder", decision.provider_ids[0], sent.body)


async def test_the_same_reminder_is_not_sent_twice_a_day(service, transport):
    await service.remind("BW-10001")
    second = await service.remind("BW-10001")
    assert (second.status, second.reason) == ("suppressed", "duplicate")
    assert len(transport.sent) == 1


async def test_an_opted_out_address_gets_nothing_until_it_opts_back_in(service, transport, demo_ledger, clock):
    demo_ledger.record_consent("sms", MAYA, False, "STOP", clock.now - timedelta(hours=1))
    suppressed = await service.remind("BW-10001")
    assert (suppressed.status, suppressed.reason) == ("suppressed", "opted_out") and transport.sent == []
    demo_ledger.record_consent("sms", MAYA, True, "START", clock.now)
    assert (await service.remind("BW-10001")).sent
    assert attempts(service, "BW-10001") == [("suppressed", "opted_out"), ("sent", "allowed")]


async def test_quiet_hours_delay_until_8am_in_the_consumers_zone(service, transport, clock):
    clock.now = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)  # 6:00 in Los Angeles
    decision = await service.remind("BW-10001")
    assert (decision.status, decision.reason) == ("delayed", "quiet_hours")
    assert decision.not_before == datetime(2026, 11, 24, 16, 0, tzinfo=timezone.utc)  # 8:00 PST
    assert transport.sent == []
    [logged] = service.messaging.attempts(account_ref="BW-10001")
    assert logged.not_before == decision.not_before and "Maya" in logged.body


async def test_a_reminder_delayed_by_quiet_hours_goes_out_at_8am_by_itself(service, transport, clock):
    night = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)  # 6:00 in Los Angeles
    clock.now = night
    delayed = await service.remind("BW-10001")
    assert await service.send_delayed() == [] and transport.sent == []  # 6:00: still too early
    clock.now = delayed.not_before - timedelta(minutes=1)
    assert await service.send_delayed() == []
    clock.now = delayed.not_before + timedelta(minutes=5)
    [resent] = await service.send_delayed()
    assert (resent.status, resent.reason) == ("sent", "allowed")
    assert transport.bodies(MAYA)[0].startswith("Hi Maya, this is Resolve with a reminder")
    assert await service.send_delayed() == [] and len(transport.sent) == 1  # sent once, the queue is empty
    logged = service.messaging.attempts(account_ref="BW-10001")
    assert [(a.status, a.reason) for a in logged] == [("delayed", "quiet_hours"), ("sent", "allowed")]
    assert logged[0].message_key == logged[1].message_key  # the same reminder, not a new one
    assert (await service.remind("BW-10001")).reason == "duplicate"  # and still once a day


async def test_a_delayed_reminder_obeys_an_opt_out_that_came_meanwhile(service, transport, demo_ledger, clock):
    clock.now = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
    delayed = await service.remind("BW-10001")
    demo_ledger.record_consent("sms", MAYA, False, "STOP", clock.now + timedelta(minutes=30))
    clock.now = delayed.not_before
    [decision] = await service.send_delayed()
    assert (decision.status, decision.reason) == ("suppressed", "opted_out") and transport.sent == []
    assert await service.send_delayed() == []  # suppressed is final: not tried again


async def test_a_reminder_delayed_by_the_weekly_cap_goes_out_when_the_week_allows(demo_ledger, catalogs, clock,
                                                                                transport):
    service = make_service(demo_ledger, catalogs, clock, transport, weekly_cap=1)
    first = clock.now
    assert (await service.remind("BW-10001")).sent
    clock.now = first + timedelta(days=1)
    capped = await service.remind("BW-10001")
    assert (capped.reason, capped.not_before) == ("weekly_cap", first + timedelta(days=7))
    clock.now = first + timedelta(days=3)
    assert await service.send_delayed() == []
    clock.now = capped.not_before
    [resent] = await service.send_delayed()
    assert resent.sent and len(transport.sent) == 2


async def test_an_agents_reply_goes_out_with_the_opt_out_line(service, transport):
    decision = await service.agent_reply("sms", MAYA, "We received your letter.", account_ref="BW-10001")
    assert (decision.status, decision.reason) == ("sent", "allowed")
    assert transport.bodies(MAYA) == [
        "A message from our team: We received your letter.\nReply STOP to stop texts to this number."]


async def test_a_consumer_we_cannot_place_waits_for_every_possible_zone(service, transport):
    # An agent's reply to an address with no consumer on file: no zone is known.
    decision = await service.agent_reply("sms", "+12125550199", "We received your letter.")
    assert (decision.status, decision.reason) == ("delayed", "quiet_hours")  # 6:00 in Guam
    assert decision.not_before == datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)


async def test_the_weekly_cap_delays_the_next_proactive_message(demo_ledger, catalogs, clock, transport):
    service = make_service(demo_ledger, catalogs, clock, transport, weekly_cap=2)
    first_sent = clock.now
    for day in range(2):
        clock.now = first_sent + timedelta(days=day)
        assert (await service.remind("BW-10001")).sent
    clock.now = first_sent + timedelta(days=2)
    capped = await service.remind("BW-10001")
    assert (capped.status, capped.reason) == ("delayed", "weekly_cap")
    assert capped.not_before == first_sent + timedelta(days=7)
    assert len(transport.sent) == 2


async def test_a_code_the_consumer_asked_for_ignores_quiet_hours_but_not_the_opt_out(service, transport, demo_ledger,
                                                                                     clock):
    clock.now = datetime(2026, 11, 24, 11, 0, tzinfo=timezone.utc)  # 3:00 in Los Angeles
    code = OutboundMessage(purpose="one_time_code", response="utter_one_time_code", channel="sms", address=MAYA,
                           arguments={"code": "482913"}, consumer_id=1, masked=("482913",))
    decision = await service.send(code)
    assert (decision.status, decision.reason) == ("sent", "requested")
    assert transport.sent[0].body.startswith("Your Resolve code is 482913.")
    assert "STOP" not in transport.sent[0].body  # a reply to the consumer's own request, not a proactive text
    assert "482913" not in service.messaging.attempts(consumer_id=1)[0].body  # the record never holds the code
    demo_ledger.record_consent("sms", MAYA, False, "STOP", clock.now)
    assert (await service.send(code)).reason == "opted_out"


async def test_an_agency_account_is_not_discussed_on_sms(service, transport):
    decision = await service.remind("SRS-40001")
    assert (decision.status, decision.reason, decision.address) == ("suppressed", "channel_not_allowed", SOFIA)
    assert transport.sent == []


async def test_collection_stops_for_a_cease_communication_request(service, transport, engine):
    with engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET flags = :flags WHERE account_ref = 'BW-10001'"),
                           {"flags": '["cease_communication"]'})
    decision = await service.remind("BW-10001")
    assert (decision.status, decision.reason) == ("suppressed", "collection_stopped:cease_communication")
    assert transport.sent == []


async def test_reminders_stop_while_part_of_the_balance_is_disputed(service, transport, engine):
    from bot.domain.money import Money
    from bot.ledger.disputes import SqlDisputes
    from bot.services.disputes import Disputes

    disputes = Disputes(SqlDisputes(engine))
    opened = disputes.open_dispute("BW-10001", conversation_id="c1", channel="sms", reason="wrong_amount",
                                   words="they charged me $50 twice", amount=Money(5000, "USD"), turn_key="c1:1")
    decision = await service.remind("BW-10001")
    assert (decision.status, decision.reason) == ("suppressed", "on_hold")
    disputes.verify(opened.dispute.id, "ana", "verified with the creditor")
    assert (await service.remind("BW-10001")).reason != "on_hold"  # the hold is lifted with the dispute


async def test_spanish_consumers_get_spanish_text(service, transport, clock):
    clock.now = datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)  # noon in New York
    assert (await service.remind("NW-20001")).sent
    bodies = transport.bodies(LUCIA)
    # Accents make Spanish UCS-2 (67 characters a segment): the reminder goes as two texts of <= 3 segments.
    assert len(bodies) == 2 and all(segment_count(body) <= 3 for body in bodies)
    assert bodies[0].startswith("Hola, Lucía: le escribe Resolve") and "lang=es" in bodies[0]
    assert bodies[-1].endswith("Responda STOP (o ALTO) para dejar de recibir mensajes de texto en este número.")


async def test_whatsapp_outside_the_24_hour_window_needs_an_approved_template(demo_ledger, catalogs, clock, transport):
    plain = make_service(demo_ledger, catalogs, clock, transport)
    decision = await plain.remind("BW-10001", channel="whatsapp")
    assert (decision.status, decision.reason, decision.address) == (
        "suppressed", "whatsapp_window_closed", f"whatsapp:{MAYA}")
    assert transport.sent == []

    config = MessagingConfig(whatsapp_templates={"utter_payment_reminder": Template(TEMPLATE_SID, ("first_name", "link"))})
    templated = make_service(demo_ledger, catalogs, clock, transport, config=config)
    assert (await templated.remind("BW-10001", channel="whatsapp")).reason == "allowed_template"
    [sent] = transport.sent
    assert (sent.to, sent.from_, sent.body) == (f"whatsapp:{MAYA}", f"whatsapp:{OUR_NUMBER}", None)
    assert sent.content_sid == TEMPLATE_SID
    assert sent.content_variables == {"1": "Maya", "2": "https://chat.example.com/chat?t=signed-BW-10001&lang=en"}


async def test_a_spanish_consumer_gets_the_spanish_template_and_english_is_the_fallback(
        demo_ledger, catalogs, clock, transport):
    spanish_sid = "HX" + "e" * 32
    config = MessagingConfig(whatsapp_templates={"utter_payment_reminder": Template(
        TEMPLATE_SID, ("first_name", "link"), {"es": spanish_sid})})
    service = make_service(demo_ledger, catalogs, clock, transport, config=config)
    assert (await service.remind("NW-20001", channel="whatsapp")).reason == "allowed_template"  # Lucía, es
    assert (await service.remind("BW-10001", channel="whatsapp")).reason == "allowed_template"  # Maya, en
    assert [sent.content_sid for sent in transport.sent] == [spanish_sid, TEMPLATE_SID]
    # A template approved in English only: Spanish consumers get it rather than nothing.
    assert Template(TEMPLATE_SID, ("link",)).in_language("es").content_sid == TEMPLATE_SID


async def test_whatsapp_inside_the_window_sends_the_text_itself(service, transport, clock):
    service.messaging.claim_inbound("whatsapp", "SM1", f"whatsapp:{MAYA}", clock.now - timedelta(hours=3))
    assert (await service.remind("BW-10001")).channel == "whatsapp"  # the channel Maya last wrote on
    [sent] = transport.sent
    assert sent.content_sid is None and sent.body.endswith("Reply STOP to stop messages to this number.")


async def test_an_agency_that_allows_sms_adds_the_debt_collector_disclosure(ledger, catalogs, clock, transport,
                                                                            tmp_path):
    (tmp_path / "creditors.yml").write_text(
        "creditors:\n  - id: acme\n    name: Acme Recovery\n    role: agency\n    channels: [sms, webchat]\n"
        "    original_creditor: Lakeview Telecom\n    collector: Acme Recovery\n")
    (tmp_path / "placements.csv").write_text(
        "creditor_id,account_ref,first_name,last_name,date_of_birth,postal_code,phone,email,language,timezone,"
        "currency,item_date,item_reference,item_description,item_amount\n"
        "acme,AR-50001,Noor,Haddad,1990-05-06,60601,+13125550177,noor@example.com,en,America/Chicago,USD,"
        "2026-05-01,LT-1,Phone service,120.00\n")
    import_placements(ledger.engine, tmp_path / "placements.csv", tmp_path / "creditors.yml")
    service = make_service(ledger, catalogs, clock, transport)
    assert (await service.remind("AR-50001")).sent
    assert transport.sent[0].body.startswith("This is a communication from a debt collector.\nHi Noor")


async def test_a_refusal_by_twilio_is_recorded_as_failed(demo_ledger, catalogs, clock):
    service = make_service(demo_ledger, catalogs, clock, RecordingTransport(fail_with=400))
    decision = await service.remind("BW-10001")
    assert (decision.status, decision.reason) == ("failed", "provider_error:21610")
    assert attempts(service, "BW-10001") == [("failed", "provider_error:21610")]


async def test_an_unconfigured_channel_suppresses(demo_ledger, catalogs, clock):
    service = OutboundService(demo_ledger, SqlMessaging(demo_ledger.engine), catalogs, {"sms": None}, clock=clock,
                              link_for=lambda ref, language: "https://chat.example.com/chat")
    decision = await service.remind("BW-10001")
    assert (decision.status, decision.reason) == ("suppressed", "channel_not_configured")


async def test_rasas_proactive_door_to_sms_follows_the_same_rules(service, transport, demo_ledger, clock):
    from channels.twilio import OutboundDelayed, SmsInput

    channel = SmsInput(AUTH_TOKEN, "https://chat.example.com", sender=service.senders["sms"],
                       messaging=service.messaging, outbound=service)
    output = channel.get_output_channel()  # what Rasa's trigger_intent API uses for output_channel=sms
    assert output.name() == "sms"
    await output.send_response(MAYA, {"text": "Thank you! Your payment of $50.00 went through."})
    assert transport.bodies(MAYA) == [
        "Thank you! Your payment of $50.00 went through.\nReply STOP to stop texts to this number."]

    clock.now = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)  # 22:00 in Los Angeles
    with pytest.raises(OutboundDelayed):  # the payments outbox keeps it and tries again in the morning
        await output.send_response(MAYA, {"text": "Your payment of $50.00 didn't go through."})

    clock.now = NOON_IN_LOS_ANGELES + timedelta(days=1)
    demo_ledger.record_consent("sms", MAYA, False, "STOP", clock.now)
    await output.send_response(MAYA, {"text": "A payment of $50.00 was returned to your card."})
    assert len(transport.bodies(MAYA)) == 1
    assert [(a.purpose, a.status, a.reason) for a in service.messaging.attempts(address=MAYA)] == [
        ("conversation_update", "sent", "allowed"), ("conversation_update", "delayed", "quiet_hours"),
        ("conversation_update", "suppressed", "opted_out")]


# --- Twilio down or slow: retried with backoff while it says it did not take the message, then queued ---


class FlakyTransport(RecordingTransport):
    """Twilio answering `statuses` (one per request, in order) before it takes messages again."""

    def __init__(self, statuses) -> None:
        super().__init__()
        self.statuses = list(statuses)
        self.tries = 0

    async def request(self, *args, **kwargs):
        self.tries += 1
        if self.statuses:
            self.fail_with = self.statuses.pop(0)
            try:
                return await super().request(*args, **kwargs)
            finally:
                self.fail_with = None
        return await super().request(*args, **kwargs)


def flaky_service(ledger, catalogs, clock, transport) -> OutboundService:
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, "sms", http_client=transport, retry_delays=(0, 0))
    return OutboundService(ledger, SqlMessaging(ledger.engine), catalogs, {"sms": sender}, clock=clock,
                           link_for=lambda ref, language: f"https://chat.example.com/chat?t=signed-{ref}")


async def test_twilio_5xx_is_retried_with_backoff_and_the_reminder_goes_out_once(demo_ledger, catalogs, clock):
    transport = FlakyTransport([503, 500])
    decision = await flaky_service(demo_ledger, catalogs, clock, transport).remind("BW-10001")
    assert decision.sent and transport.tries == 3 and len(transport.sent) == 1


async def test_twilio_down_queues_the_reminder_and_it_goes_out_later(demo_ledger, catalogs, clock):
    transport = FlakyTransport([503] * 3)
    service = flaky_service(demo_ledger, catalogs, clock, transport)
    failed = await service.remind("BW-10001")
    assert failed.status == "failed" and failed.not_before == clock.now + timedelta(minutes=10)
    assert transport.tries == 3  # the try and its two retries
    assert await service.send_delayed() == []  # not before its time
    clock.now += timedelta(minutes=10)
    [resent] = await service.send_delayed()
    assert resent.sent and transport.bodies(MAYA)[0].startswith("Hi Maya")
    assert [a.status for a in service.messaging.attempts(account_ref="BW-10001")] == ["failed", "sent"]


async def test_a_reminder_twilio_keeps_failing_is_given_up_after_three_failures(demo_ledger, catalogs, clock):
    transport = FlakyTransport([503] * 30)
    service = flaky_service(demo_ledger, catalogs, clock, transport)
    await service.remind("BW-10001")
    for _ in range(4):
        clock.now += timedelta(minutes=10)
        await service.send_delayed()
    logged = service.messaging.attempts(account_ref="BW-10001")
    assert [a.status for a in logged] == ["failed"] * 3 and logged[-1].not_before is None
    assert transport.sent == []


async def test_a_message_twilio_refuses_is_not_tried_again(demo_ledger, catalogs, clock):
    transport = FlakyTransport([400])  # e.g. 21610: the number texted STOP to Twilio itself
    service = flaky_service(demo_ledger, catalogs, clock, transport)
    refused = await service.remind("BW-10001")
    assert (refused.status, refused.not_before, transport.tries) == ("failed", None, 1)
    clock.now += timedelta(hours=1)
    assert await service.send_delayed() == []
