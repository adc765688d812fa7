"""What an SMS/WhatsApp message becomes before NLU: keywords, numbered choices, card numbers, media."""
from __future__ import annotations

import pytest

from bot.domain.cards import CARD_SHARED_PAYLOAD
from bot.domain.choices import chosen, numbered
from bot.domain.inbound import MEDIA_SHARED_PAYLOAD, prepare_inbound
from bot.domain.keywords import keyword_intent

CHOICES = [
    {"title": "What do I owe?", "payload": "/ask_balance"},
    {"title": "What is it for?", "payload": "/ask_balance_details"},
    {"title": "Who is it owed to?", "payload": "/ask_creditor"},
]


@pytest.mark.parametrize(
    "text, intent",
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        (" Stop. ", "opt_out"),
        ("STOPALL", "opt_out"),
        ("UNSUBSCRIBE", "opt_out"),
        ("CANCEL", "opt_out"),
        ("END", "opt_out"),
        ("QUIT", "opt_out"),
        ("REVOKE", "opt_out"),
        ("OPTOUT", "opt_out"),
        ("ALTO", "opt_out"),  # Spanish
        ("stop texting me", "opt_out"),  # plain words
        ("Stop texting me!", "opt_out"),
        ("no me escriban más", "opt_out"),
        ("START", "opt_in"),
        ("unstop", "opt_in"),
        ("HELP", "help"),
        ("info", "help"),
        ("AYUDA", "help"),
        ("AGENTE", "request_human"),
        ("agent", "request_human"),
        # Not keywords: the whole message must be one.
        ("cancel my plan", None),
        ("stop by the office", None),
        ("i need help with my balance", None),
        ("start a payment plan", None),
        ("hello", None),
        ("", None),
    ],
)
def test_keywords_match_the_whole_message_only(text, intent):
    assert keyword_intent(text) == intent


@pytest.mark.parametrize(
    "reply, index",
    [
        ("2", 1),
        (" 3. ", 2),
        ("#1", 0),
        ("option 2", 1),
        ("who is it owed to?", 2),  # the title itself
        ("4", None),  # out of range
        ("0", None),
        ("94110", None),
        ("2 please and also my balance", None),
    ],
)
def test_numbered_choice_replies(reply, index):
    assert chosen(reply, CHOICES) == index


def test_whatsapp_button_payload_picks_the_choice():
    assert chosen("Who is it owed to?", CHOICES, button_payload="3") == 2


def test_numbered_lines():
    assert numbered(["Yes", "No"]) == "1. Yes\n2. No"


def test_keyword_becomes_an_intent_payload_even_with_choices_open():
    inbound = prepare_inbound("STOP", choices=CHOICES)
    assert inbound.text == "/opt_out" and inbound.metadata == {"keyword": "opt_out"}


def test_a_number_answers_the_choices_offered():
    inbound = prepare_inbound("2", choices=CHOICES)
    assert inbound.text == "/ask_balance_details" and inbound.metadata == {"choice": 2}


def test_a_number_without_choices_is_just_text():
    assert prepare_inbound("2").text == "2"


def test_a_card_number_never_goes_further():
    inbound = prepare_inbound("my card is 4242 4242 4242 4242 exp 12/29", choices=CHOICES)
    assert inbound.text == CARD_SHARED_PAYLOAD and "4242" not in str(inbound.metadata)


def test_a_picture_without_words_gets_the_media_intent():
    assert prepare_inbound("", has_media=True).text == MEDIA_SHARED_PAYLOAD
    assert prepare_inbound("here is my letter", has_media=True).text == "here is my letter"


def test_typed_payloads_lose_their_slash():
    assert prepare_inbound('/EXTERNAL_payment_outcome{"payment_request_id": "1"}').text.startswith("EXTERNAL")
    assert prepare_inbound("/request_human").text == "request_human"
