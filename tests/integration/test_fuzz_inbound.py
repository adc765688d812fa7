"""Property tests over every parser that reads what outsiders send: placement files, Twilio's form bodies,
Stripe's events, and web chat session and personal-link tokens.

Whatever arrives, each either accepts it or refuses it the documented way (PlacementError, 403,
InvalidWebhook, None), never crashes with anything else, and a refusal writes nothing.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import string
from pathlib import Path
from typing import Dict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.bootstrap import make_engine
from bot.domain.cards import contains_card_number
from bot.domain.inbound import prepare_inbound
from bot.ledger import schema as t
from bot.ledger.importer import PlacementError, import_placements
from bot.ledger.migrations import upgrade
from bot.ledger.payments import SqlPayments
from bot.ledger.repository import SqlLedger
from bot.payments import gateway as g
from bot.payments.notifier import ConsumerNotifier
from bot.payments.service import PaymentsService
from bot.payments.stripe_gateway import verify_stripe_webhook
from bot.security import LinkSigner
from bot.web.webchat_session import SessionSigner
from tests.stripe_fake import StripeProvider

ROOT = Path(__file__).resolve().parents[2]
CREDITORS = ROOT / "demo" / "creditors.yml"
DEMO_LINES = (ROOT / "demo" / "placements.csv").read_text(encoding="utf-8").splitlines()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])

# Text an outsider can send: printable, control characters, separators and quotes, any script.
hostile_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["", " ", ",", '"', "\n", "\r\n", "1e309", "-0", "NaN", "9" * 40, "2026-02-30", "+1", "null", "∞", "\x00"])


def snapshot(engine) -> Dict[str, int]:
    """How many rows each table holds: a refused input must leave every count as it was."""
    with engine.connect() as connection:
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in t.metadata.sorted_tables}


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fuzz.db'}")
    upgrade(engine)
    import_placements(engine, ROOT / "demo" / "placements.csv", CREDITORS)  # conflicts with what is placed, too
    yield engine
    engine.dispose()


# --- placement files -------------------------------------------------------------------------------------


@st.composite
def mutated_placement(draw) -> str:
    """The demo file with a few cells replaced by hostile text, lines dropped or duplicated."""
    rows = [next(csv.reader([line])) for line in DEMO_LINES]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "drop", "duplicate", "extra_column"]))
        index = draw(st.integers(0, len(rows) - 1))
        if kind == "cell":
            column = draw(st.integers(0, len(rows[index]) - 1))
            rows[index][column] = draw(hostile_text)
        elif kind == "drop" and len(rows) > 1:
            rows.pop(index)
        elif kind == "duplicate":
            rows.insert(index, list(rows[index]))
        else:
            rows[index].append(draw(hostile_text))
    out = io.StringIO()
    csv.writer(out, escapechar="\\").writerows(rows)
    return out.getvalue()


@FUZZ
@given(content=mutated_placement())
def test_a_placement_file_is_imported_whole_or_refused_with_nothing_written(engine, tmp_path, content):
    path = tmp_path / "fuzzed.csv"
    path.write_text(content, encoding="utf-8")
    before = snapshot(engine)
    try:
        import_placements(engine, path, CREDITORS)
    except PlacementError as refused:
        assert all(str(error) for error in refused.errors)
        assert snapshot(engine) == before  # all or nothing


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_a_placement_file(engine, tmp_path, raw):
    path = tmp_path / "bytes.csv"
    path.write_bytes(raw)
    before = snapshot(engine)
    with pytest.raises(PlacementError):
        import_placements(engine, path, CREDITORS)  # no header line: always refused, never a crash
    assert snapshot(engine) == before


# --- Twilio form bodies ---------------------------------------------------------------------------------


@FUZZ
@given(body=hostile_text | st.text(string.digits + " -", max_size=30), has_media=st.booleans(),
       button=st.none() | hostile_text)
def test_any_text_message_becomes_text_rasa_can_take(body, has_media, button):
    choices = [{"title": "What do I owe?", "payload": "/ask_balance"}, {"title": "Talk to a person",
                                                                        "payload": "/request_human"}]
    inbound = prepare_inbound(body, choices=choices, button_payload=button, has_media=has_media)
    assert isinstance(inbound.text, str)
    assert not contains_card_number(inbound.text)  # a card number never goes further
    if inbound.text.startswith("/"):  # only the channel speaks in payloads
        assert inbound.text in ("/ask_balance", "/request_human", "/EXTERNAL_card_number_shared",
                                "/EXTERNAL_media_shared") or "keyword" in inbound.metadata


twilio_field = st.sampled_from(["From", "To", "Body", "MessageSid", "SmsMessageSid", "NumMedia", "MediaUrl0",
                                "MediaContentType0", "ButtonPayload", "ButtonText", "AccountSid", "ProfileName"])


@settings(FUZZ, max_examples=20)  # each example serves the channel on a real port: fewer, still varied
@given(form=st.dictionaries(twilio_field | st.text(max_size=12), hostile_text, max_size=8), signed=st.booleans())
def test_any_twilio_form_is_answered_200_when_signed_and_403_when_not(tmp_path, form, signed):
    from tests.channels.test_twilio import serve
    from tests.twilio_fakes import AUTH_TOKEN

    async def exercise():
        from bot.ledger.messaging import SqlMessaging

        engine = make_engine(f"sqlite:///{tmp_path / 'twilio.db'}")
        upgrade(engine)
        before = snapshot(engine)
        try:
            async with serve(messaging=SqlMessaging(engine)) as served:
                token = AUTH_TOKEN if signed else "not-the-auth-token"
                status, _ = await served.post(dict(form), token=token)
                return status, served.texts(), before, snapshot(engine)
        finally:
            engine.dispose()

    status, texts, before, after = asyncio.run(exercise())
    assert status == (200 if signed else 403)
    if not signed:
        assert texts == [] and after == before  # nothing processed, nothing written


# --- Stripe events --------------------------------------------------------------------------------------

SECRET = "whsec_fuzz"
OPEN_REQUEST = "<the open payment request>"  # replaced by a real request's id: events that reach the ledger
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12)
stripe_types = st.sampled_from(["checkout.session.completed", "checkout.session.async_payment_succeeded",
                                "checkout.session.async_payment_failed", "checkout.session.expired",
                                "payment_intent.succeeded", "payment_intent.payment_failed",
                                "setup_intent.succeeded", "charge.refunded", "charge.dispute.created",
                                "charge.dispute.closed", "customer.created"])
stripe_object = st.fixed_dictionaries({}, optional={
    "id": hostile_text, "mode": st.sampled_from(["payment", "setup"]) | json_values,
    "payment_status": st.just("paid") | json_values, "amount_total": st.integers(-10**12, 10**12) | json_values,
    "amount": st.integers(-10**12, 10**12) | json_values, "amount_received": json_values,
    "amount_refunded": json_values, "currency": st.sampled_from(["usd", "jpy"]) | json_values,
    "payment_intent": hostile_text | json_values, "payment_method": json_values, "customer": json_values,
    "status": json_values, "last_payment_error": json_values,
    "metadata": json_values | st.fixed_dictionaries({"payment_request_id": st.just(OPEN_REQUEST) | hostile_text,
                                                     "account_ref": st.just("BW-10001") | hostile_text}),
    "client_reference_id": json_values})
stripe_event = st.fixed_dictionaries({"id": hostile_text | json_values, "type": stripe_types | json_values,
                                      "data": st.fixed_dictionaries({"object": stripe_object}) | json_values},
                                     optional={"created": st.integers(-10**12, 10**12) | json_values})


class Silent(ConsumerNotifier):
    def notify(self, *args) -> None:
        pass


@FUZZ
@given(payload=st.binary(max_size=200), signature=st.none() | hostile_text)
def test_any_unsigned_stripe_webhook_is_refused(payload, signature):
    with pytest.raises(g.InvalidWebhook):
        verify_stripe_webhook(payload, signature, SECRET)


@FUZZ
@given(event=stripe_event | json_values)
def test_any_signed_stripe_event_is_applied_or_refused_and_a_refusal_writes_nothing(engine, event):
    service = PaymentsService(SqlLedger(engine), SqlPayments(engine), g_sandbox(), Silent())
    open_request = service.request_payment("BW-10001", None, "full").id
    provider = StripeProvider.__new__(StripeProvider)  # only its signing: no server needed
    provider.webhook_secret = SECRET
    payload, signature = provider.signed(json.loads(json.dumps(event).replace(json.dumps(OPEN_REQUEST)[1:-1],
                                                                                open_request)))
    before = snapshot(engine)
    try:
        parsed = verify_stripe_webhook(payload, signature, SECRET)
    except g.InvalidWebhook:
        assert snapshot(engine) == before
        return
    try:
        service.handle_gateway_event(parsed, deliver=False)
    except Exception:
        assert snapshot(engine) == before  # a crash would be a 500; at least nothing half-written
        raise


def g_sandbox():
    from bot.payments.sandbox import SandboxGateway

    return SandboxGateway("http://127.0.0.1", SECRET)


# --- web chat session tokens and personal links ----------------------------------------------------------


@FUZZ
@given(token=st.none() | hostile_text | st.text(string.ascii_letters + string.digits + "-_.:=", max_size=120))
def test_any_token_is_a_session_or_none(token):
    assert SessionSigner("fuzz-secret").verify(token) is None
    assert LinkSigner("fuzz-secret").verify(token) is None


@FUZZ
@given(position=st.integers(0, 400), replacement=st.characters(blacklist_categories=("Cs",)))
def test_a_tampered_token_is_refused(position, replacement):
    sessions, links = SessionSigner("fuzz-secret"), LinkSigner("fuzz-secret")
    conversation, token = sessions.issue()
    link = links.sign("BW-10001", ttl=60)
    for signer, good, value in ((sessions, token, conversation), (links, link, "BW-10001")):
        assert signer.verify(good) == value
        index = position % len(good)
        tampered = good[:index] + replacement + good[index + 1:]
        if tampered != good:
            assert signer.verify(tampered) is None, (good, tampered)
    assert SessionSigner("another-secret").verify(token) is None
