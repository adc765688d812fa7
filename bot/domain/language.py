"""Which language a consumer writes in, when nobody told us: English or Spanish, or "not clear".

Used only for consumers whose language no placement or personal link gives. A short message is
often in neither language ("ok", "94110", "3/4/85"), so the detector answers ``None`` unless the
evidence is clear, and the conversation keeps the language it has. Scoring: frequent words that
exist in one language only, plus Spanish-only letters and punctuation (ñ, accented vowels, ¿ ¡).
Words shared by both languages ("no", "me", "plan", "a") count for neither.

An explicit request ("en español por favor", "English please") is :func:`requested_language`,
and always wins over detection: the caller stops detecting once the consumer has asked.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

ENGLISH = "en"
SPANISH = "es"

_SPANISH_WORDS = frozenset("""
de la que el en los se del las un por con una su para es al lo como pero sus le ya este porque
esta entre cuando muy sin sobre tambien hasta hay donde quien desde todo nos durante todos uno les
ni contra otros ese eso ante ellos esto antes algunos unos yo otro otras otra tanto esa estos mucho
nada muchos cual poco ella estar estas algo mi mis tu tus usted ustedes hola gracias quiero puedo
cuanto cuanta debo deuda deudas pagar pago pagos ayuda necesito tengo tiene buenos buenas dias
tardes noches favor soy estoy cuenta saldo espanol alto agente si claro bueno adios nombre fecha
nacimiento codigo postal quien quiero hablar persona mes meses semana semanas cuotas dinero ahora
hoy manana cuando puede puedes pueden debe deber esa mio mia eso aqui alli donde gracias vale
enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre
lunes martes miercoles jueves viernes sabado domingo hablo habla entiendo disculpe perdon
""".split())

_ENGLISH_WORDS = frozenset("""
the i you to and is it my of for on what how much do does owe can please hi hello thanks thank
yes want pay need this that not am are was with have be help balance account who why when where
debt bill money english in your our we they he she them there their here just about would
could should will my mine month months week weeks today tomorrow talk person speak someone its
january february march april june july august september october november december
monday tuesday wednesday thursday friday saturday sunday good morning afternoon evening
i'm im dont don't can't cant it's what's whats
""".split())

# Letters and marks only Spanish of the two languages writes.
_SPANISH_MARKS = frozenset("ñáéíóúü¿¡")
_WORD = re.compile(r"[a-z']+")

# Names of each language (accents folded, "espanol", "espaniol", "inglés" alike), for explicit requests.
_NAME = re.compile(r"\b(?:(?P<es>espan\w*|spanish|castellano)|(?P<en>english|ingles))\b")

MIN_SCORE = 2  # evidence needed for a verdict
DOMINANCE = 2  # the winner's score must be at least this many times the loser's


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold().replace("\u2019", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def scores(text: str) -> tuple[int, int]:
    """(english, spanish) evidence in a message."""
    lowered = (text or "").casefold()
    words = _WORD.findall(_fold(text))
    english = sum(word in _ENGLISH_WORDS for word in words)
    spanish = sum(word in _SPANISH_WORDS for word in words)
    spanish += 2 * any(ch in _SPANISH_MARKS for ch in lowered)
    return english, spanish


def detect_language(text: str) -> Optional[str]:
    """"en" or "es" when the message clearly reads as one of them, else None."""
    english, spanish = scores(text)
    if spanish >= MIN_SCORE and spanish >= DOMINANCE * english:
        return SPANISH
    if english >= MIN_SCORE and english >= DOMINANCE * spanish:
        return ENGLISH
    # One word that exists in one language only ("hola", "thanks") and nothing else to weigh.
    words = _WORD.findall(_fold(text))
    if len(words) == 1 and (english, spanish) in ((1, 0), (0, 1)):
        return ENGLISH if english else SPANISH
    return None


def requested_language(text: str) -> Optional[str]:
    """The language a message names ("en español por favor" -> "es"); the first named wins."""
    match = _NAME.search(_fold(text))
    if match is None:
        return None
    return SPANISH if match.group("es") else ENGLISH


DETECTED_LANGUAGE = "detected_language"  # the message metadata key the channels fill


def language_hint(text: str) -> dict:
    """Message metadata naming the language a consumer's words clearly read as (else nothing).

    Channels add it before the text is replaced (a keyword becomes "/opt_out"), so that a
    session opened by "ALTO" or "hola" starts in Spanish for a consumer we do not know yet.
    """
    language = detect_language(text)
    return {DETECTED_LANGUAGE: language} if language else {}
