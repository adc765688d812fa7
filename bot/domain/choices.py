"""Buttons on text-only channels: numbered choices the consumer answers with the number (or the title)."""
from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence

from bot.domain.keywords import normalize

_NUMBER = re.compile(r"^\s*(?:#|no\.?\s*|n[uú]mero\s*|option\s*|opci[oó]n\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def numbered(titles: Sequence[str]) -> str:
    """One line per choice: "1. What do I owe?"; numbers and titles need no translation of their own."""
    return "\n".join(f"{number}. {title}" for number, title in enumerate(titles, start=1))


def chosen(text: str, choices: Sequence[Mapping[str, str]], button_payload: Optional[str] = None) -> Optional[int]:
    """The 0-based index of the choice a reply picks ("2", "#2", "option 2", or the title), else None."""
    if not choices:
        return None
    for candidate in (button_payload, text):
        match = _NUMBER.match(candidate or "")
        if match and 1 <= int(match.group(1)) <= len(choices):
            return int(match.group(1)) - 1
    wanted = normalize(text)
    for index, choice in enumerate(choices):
        if wanted and normalize(choice.get("title", "")) == wanted:
            return index
    return None
