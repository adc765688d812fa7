"""SMS segments: how carriers count a text, and splitting long replies where sentences end.

A text that uses only the GSM 03.38 alphabet travels as GSM-7: 160 septets in one segment, 153
per segment once it is split (the rest carries the concatenation header). Characters of the
extension table (``{}[]~|^€\\`` and form feed) take two septets, an escape and the character,
and the pair is never split across segments. Any other character makes the whole text UCS-2:
70 UTF-16 code units in one segment, 67 per segment once split; characters outside the Basic
Multilingual Plane (most emoji) take two units, and a surrogate pair is never split either.
"""
from __future__ import annotations

import re
from typing import Callable, List

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")
GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE = {GSM7: 160, UCS2: 70}
MULTIPART = {GSM7: 153, UCS2: 67}

_SENTENCE_END = re.compile(r"(?<=[.!?…:;])\s+|\n+")


def encoding(text: str) -> str:
    """GSM-7 when every character is in the GSM alphabet (with its extension), else UCS-2."""
    return GSM7 if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text) else UCS2


def _units(ch: str, scheme: str) -> int:
    if scheme == GSM7:
        return 2 if ch in GSM_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def length(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    scheme = encoding(text)
    return sum(_units(ch, scheme) for ch in text)


def segment_count(text: str) -> int:
    """How many segments a carrier bills for `text` (0 for an empty text)."""
    if not text:
        return 0
    scheme = encoding(text)
    if length(text) <= SINGLE[scheme]:
        return 1
    segments, used = 1, 0
    for ch in text:
        units = _units(ch, scheme)
        if used + units > MULTIPART[scheme]:  # an escape pair or a surrogate pair moves whole
            segments, used = segments + 1, 0
        used += units
    return segments


def fits_sms(text: str, max_segments: int) -> bool:
    return segment_count(text) <= max_segments


def split_text(text: str, fits: Callable[[str], bool]) -> List[str]:
    """Parts of `text` that each satisfy `fits`, cut where sentences end when possible.

    Sentences are packed greedily; a sentence too long on its own is cut between words, and a
    word too long on its own between characters. Whitespace at the cuts is dropped.
    """
    text = (text or "").strip()
    if not text:
        return []
    if fits(text):
        return [text]
    parts: List[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        pieces = [sentence] if fits(sentence) else _split_words(sentence, fits)
        for piece in pieces:
            joined = f"{parts[-1]} {piece}" if parts else piece
            if parts and fits(joined):
                parts[-1] = joined
            else:
                parts.append(piece)
    return parts


def _split_words(sentence: str, fits: Callable[[str], bool]) -> List[str]:
    parts: List[str] = []
    for word in sentence.split():
        pieces = [word] if fits(word) else _split_characters(word, fits)
        for piece in pieces:
            joined = f"{parts[-1]} {piece}" if parts else piece
            if parts and fits(joined):
                parts[-1] = joined
            else:
                parts.append(piece)
    return parts


def _split_characters(word: str, fits: Callable[[str], bool]) -> List[str]:
    parts: List[str] = []
    current = ""
    for ch in word:
        if current and not fits(current + ch):
            parts.append(current)
            current = ""
        current += ch
    if current:
        parts.append(current)
    return parts


def split_sms(text: str, max_segments: int = 3) -> List[str]:
    """A reply as SMS messages of at most `max_segments` segments each, cut at sentence ends."""
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    return split_text(text, lambda part: fits_sms(part, max_segments))


def split_by_characters(text: str, limit: int) -> List[str]:
    """A reply as messages of at most `limit` characters (WhatsApp bodies), cut at sentence ends."""
    return split_text(text, lambda part: len(part) <= limit)
