"""What a payment is for, in the consumer's language: the hosted page's heading and the line item
name Stripe Checkout shows. The texts are in bot/ui_text.py and the catalogs under locales/."""
from __future__ import annotations

from typing import Optional

from bot.ui_text import purpose_labels


def purpose_label(purpose: str, language: str, seq: Optional[int] = None, count: Optional[int] = None) -> str:
    return purpose_labels(language)[purpose].format(seq=seq or 1, count=count or 1)
