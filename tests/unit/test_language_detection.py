"""Language detection for consumers nobody told us the language of, and explicit requests."""
import pytest

from bot.domain.inbound import prepare_inbound
from bot.domain.language import detect_language, language_hint, requested_language


@pytest.mark.parametrize("text, expected", [
    ("hola", "es"),  # one word only Spanish writes
    ("Quiero saber cuánto debo", "es"),  # a plain question
    ("23 de noviembre de 1979", "es"),  # a date of birth written out
    ("necesito ayuda con mi cuenta", "es"),  # no accents at all
    ("ALTO", "es"),  # the Spanish opt-out keyword
    ("how much do I owe?", "en"),
    ("hi", "en"),
    ("I want to pay in full", "en"),
    ("ok", None),  # both languages write it
    ("no", None),
    ("94110", None),  # numbers say nothing
    ("3/4/85", None),
    ("STOP", None),  # Spanish speakers text STOP too
    ("", None),
    ("hola thanks", None),  # mixed: neither dominates
])
def test_detect_language_answers_only_when_the_message_is_clear(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("en español por favor", "es"),
    ("Hablame en espanol", "es"),  # no accent
    ("English please", "en"),
    ("en inglés", "en"),
    ("can we speak spanish", "es"),
    ("quiero pagar", None),  # Spanish, but not a request for a language
    ("espacio", None),
])
def test_requested_language_names_the_language_asked_for(text, expected):
    assert requested_language(text) == expected


def test_channels_note_the_language_before_a_keyword_replaces_the_words():
    assert prepare_inbound("ALTO").metadata == {"keyword": "opt_out", "detected_language": "es"}
    assert prepare_inbound("quiero pagar mi deuda").metadata == {"detected_language": "es"}
    assert prepare_inbound("STOP").metadata == {"keyword": "opt_out"}
    assert language_hint("94110") == {}
