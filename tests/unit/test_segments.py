"""SMS segments: GSM-7 and UCS-2 counted the way carriers bill, and long replies split at sentence ends."""
from __future__ import annotations

import pytest

from bot.domain.segments import GSM7, UCS2, encoding, length, segment_count, split_by_characters, split_sms


@pytest.mark.parametrize(
    "text, scheme",
    [
        ("Your balance is $450.00.", GSM7),
        ("¿Cuánto debo?", UCS2),  # "á" is not in the GSM alphabet ("ñ", "é", "¿" are)
        ("Niño, café, ¿qué?", GSM7),
        ("Price in € [EUR]", GSM7),  # extension characters are still GSM-7
        ("Thanks 👍", UCS2),
        ("“Curly quotes”", UCS2),
    ],
)
def test_encoding(text, scheme):
    assert encoding(text) == scheme


@pytest.mark.parametrize(
    "text, segments",
    [
        ("", 0),
        ("a" * 160, 1),  # GSM-7 single segment: 160 septets
        ("a" * 161, 2),  # once split, 153 per segment
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets: 160
        ("€" * 81, 2),
        ("a" * 158 + "€", 1),  # 160 septets: the escape pair still fits one segment
        ("a" * 159 + "€", 2),  # 161 septets
        ("á" * 70, 1),  # UCS-2 single segment: 70 code units
        ("á" * 71, 2),  # once split, 67 per segment
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("👍" * 35, 1),  # an emoji is two UTF-16 code units
        ("👍" * 36, 2),
        ("á" * 68 + "👍", 1),  # 70 units: the surrogate pair still fits one segment
        ("á" * 69 + "👍", 2),  # 71 units
    ],
)
def test_segment_count(text, segments):
    assert segment_count(text) == segments


def test_escape_pairs_and_surrogate_pairs_are_never_split():
    # 152 'a' then '€': the pair would straddle the 153-septet boundary, so it opens segment 2.
    assert segment_count("a" * 152 + "€" + "a" * 151) == 2
    assert segment_count("a" * 152 + "€" + "a" * 152) == 3
    # 66 units, then an emoji: it does not fit the 67th unit, so it starts the second segment.
    assert segment_count("á" * 66 + "👍" + "á" * 65) == 2
    assert segment_count("á" * 66 + "👍" + "á" * 66) == 3


def test_length_counts_septets_or_code_units():
    assert length("{x}") == 5
    assert length("Hi 👍") == 5


def test_short_reply_is_one_message():
    assert split_sms("Thank you, you're verified.", max_segments=1) == ["Thank you, you're verified."]


def test_long_reply_splits_where_sentences_end():
    sentences = [f"Sentence number {n} says something useful about the account." for n in range(1, 9)]
    parts = split_sms(" ".join(sentences), max_segments=1)
    assert len(parts) > 1
    assert all(segment_count(part) == 1 for part in parts)
    assert " ".join(parts) == " ".join(sentences)  # nothing lost, nothing reordered
    assert all(part.endswith(".") for part in parts)  # every cut is at a sentence end


def test_a_spanish_reply_is_measured_in_ucs2():
    text = ("Hola, soy Resolve, un asistente automatizado. Responda STOP (o ALTO) para dejar de recibir "
            "mensajes de texto en este número. ¿En qué le puedo ayudar hoy?")
    parts = split_sms(text, max_segments=1)
    assert all(segment_count(part) == 1 for part in parts)
    assert all(length(part) <= 70 or encoding(part) == GSM7 for part in parts)
    assert " ".join(parts) == text


def test_a_sentence_too_long_for_a_message_splits_between_words():
    sentence = " ".join(["word"] * 60) + "."  # 300 characters, no sentence end inside
    parts = split_sms(sentence, max_segments=1)
    assert all(segment_count(part) == 1 for part in parts)
    assert " ".join(parts) == sentence


def test_several_segments_per_message_when_allowed():
    text = " ".join(f"Sentence {n} is here." for n in range(40))
    parts = split_sms(text, max_segments=3)
    assert all(segment_count(part) <= 3 for part in parts)
    assert len(parts) == len(split_sms(text, max_segments=3))


def test_whatsapp_bodies_split_by_characters():
    text = " ".join(f"Sentence {n} is a little longer than before." for n in range(100))
    parts = split_by_characters(text, 1600)
    assert all(len(part) <= 1600 for part in parts) and " ".join(parts) == text
