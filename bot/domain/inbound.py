"""What a consumer's text message becomes before the language model sees it.

In order: a card number never goes further (only the fact that one was sent); a picture with no
words gets a polite answer; STOP, START, HELP and AGENT are intents whatever the conversation is
doing; a number or title answering the numbered choices just offered is that choice's payload;
and anything else that looks like an intent payload ("/ask_balance") loses its slashes, because
only the channel may speak in payloads. Words that clearly read as English or Spanish say so in
the metadata (``detected_language``), for consumers whose language nobody told us.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence

from bot.domain.cards import CARD_SHARED_PAYLOAD, contains_card_number
from bot.domain.choices import chosen
from bot.domain.keywords import keyword_intent
from bot.domain.language import language_hint

MEDIA_SHARED_PAYLOAD = "/EXTERNAL_media_shared"


@dataclass(frozen=True)
class Inbound:
    text: str  # what Rasa receives
    metadata: Dict[str, Any] = field(default_factory=dict)  # why, for actions and the record


def prepare_inbound(
    body: str,
    *,
    choices: Sequence[Mapping[str, str]] = (),
    button_payload: Optional[str] = None,
    has_media: bool = False,
) -> Inbound:
    text = (body or "").strip()
    if contains_card_number(text):
        return Inbound(CARD_SHARED_PAYLOAD, {"screened": "card_number"})
    if not text:
        if has_media:
            return Inbound(MEDIA_SHARED_PAYLOAD, {"media_only": True})
        return Inbound("", {})
    intent = keyword_intent(text)
    if intent is not None:
        return Inbound(f"/{intent}", {"keyword": intent, **language_hint(text)})
    index = chosen(text, choices, button_payload)
    if index is not None:
        return Inbound(choices[index]["payload"], {"choice": index + 1})
    return Inbound(typed_text(text), language_hint(text))


def typed_text(text: str) -> str:
    """A consumer's words as words: a leading "/" would make Rasa read them as an intent payload."""
    return text.lstrip("/").strip() or text.replace("/", " ").strip()
