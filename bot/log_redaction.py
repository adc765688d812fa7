"""Log records lose card numbers, dates and ZIP codes, in every process that handles conversations.

Rasa logs user messages at DEBUG; the action server logs action names and exceptions, whose text can
carry what a consumer typed. Each installs this on the root logger's handlers: the Rasa server when its
tracker store is made (bot.adapters.tracker_store), the action server when it loads `actions`.
"""
from __future__ import annotations

import logging
import re
from typing import Iterable, Optional

from bot.domain.cards import redact_card_numbers

_DATE = re.compile(r"(?<![\d.])\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b(?!\.\d)")  # not an IP address
_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")


def redact_log_text(text: str) -> str:
    """Card numbers, anything shaped like a date, and five-digit runs (ZIP codes) leave the logs."""
    return _ZIP.sub("[zip]", _DATE.sub("[date]", redact_card_numbers(text)))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()  # the message may be an exception object (`logger.error(error)`)
        except Exception:
            return True
        redacted = redact_log_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:  # the formatter prints exc_text as it is
            record.exc_text = redact_log_text(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()


def install_log_redaction(handlers: Optional[Iterable[logging.Handler]] = None) -> None:
    """Every handler of the root logger redacts."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
