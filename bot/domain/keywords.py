"""Messaging keywords (STOP, START, HELP, ...) recognised before the language model sees a message.

Carriers and the TCPA expect these words to work whatever the conversation is doing, so the SMS
and WhatsApp channels turn them into intents directly. Matching is on the whole message only
("cancel" opts out, "cancel my plan" does not), ignoring case, spacing and punctuation around it;
the plain-word phrases are kept to unmistakable requests to stop messages.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Dict, Optional

OPT_OUT = frozenset({
    "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out",
    "opt-out", "alto",
    # plain words that can only mean "stop messaging me"
    "stop texting me", "stop texting", "stop texting me please", "please stop texting me",
    "stop messaging me", "stop sending me texts", "stop sending me messages", "unsubscribe me",
    "no more texts", "no more messages", "dont text me", "don't text me", "do not text me",
    "no me escriban mas", "no me envien mas mensajes", "dejen de escribirme",
})
OPT_IN = frozenset({"start", "unstop"})
HELP = frozenset({"help", "info", "ayuda"})
HUMAN = frozenset({"agent", "agente"})

KEYWORD_INTENTS: Dict[str, frozenset] = {
    "opt_out": OPT_OUT,
    "opt_in": OPT_IN,
    "help": HELP,
    "request_human": HUMAN,
}

_EDGE_PUNCTUATION = re.compile(r"^[\s.!¡?¿,;:\"'()*-]+|[\s.!¡?¿,;:\"'()*-]+$")


def normalize(text: str) -> str:
    """Lower case, accents off (carriers see "número" and "numero" alike), one space between words."""
    folded = unicodedata.normalize("NFKD", (text or "").casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).replace("\u2019", "'")
    return " ".join(_EDGE_PUNCTUATION.sub("", folded).split())


def keyword_intent(text: str) -> Optional[str]:
    """The intent a keyword message stands for (opt_out, opt_in, help, request_human), else None."""
    normalized = normalize(text)
    if not normalized:
        return None
    for intent, words in KEYWORD_INTENTS.items():
        if normalized in words:
            return intent
    return None
