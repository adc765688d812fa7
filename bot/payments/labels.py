"""What a payment is for, in the consumer's language: the hosted page's heading and the line item
name Stripe Checkout shows. Kept as data (like bot/web/backend.UI_STRINGS) so it can move to the
Babel catalogs without touching the code that uses it."""
from __future__ import annotations

from typing import Dict, Optional

PURPOSE_LABELS: Dict[str, Dict[str, str]] = {
    "en": {
        "full": "Payment in full",
        "partial": "Partial payment",
        "settlement": "Settlement payment",
        "installment": "Payment plan installment {seq} of {count}",
        "setup": "Save a card for your payment plan",
    },
    "es": {
        "full": "Pago total",
        "partial": "Pago parcial",
        "settlement": "Pago de liquidación",
        "installment": "Cuota {seq} de {count} del plan de pagos",
        "setup": "Guardar una tarjeta para su plan de pagos",
    },
}


def purpose_label(purpose: str, language: str, seq: Optional[int] = None, count: Optional[int] = None) -> str:
    labels = PURPOSE_LABELS.get(language, PURPOSE_LABELS["en"])
    return labels[purpose].format(seq=seq or 1, count=count or 1)
