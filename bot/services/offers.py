"""What the bot has proposed and is waiting to hear yes or no to, kept in one tracker slot as JSON.

Nothing is created until the consumer confirms; the offer carries every number they confirmed, so
what gets created is exactly what they agreed to.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import List, Optional, Tuple

from bot.domain.money import Money

KINDS = ("payment", "settlement", "plan", "promise", "cancel_plan")


@dataclass(frozen=True)
class Offer:
    kind: str
    account_ref: str
    amount: Optional[Money] = None
    due: Optional[date] = None
    purpose: Optional[str] = None  # payment requests: full | partial | settlement
    frequency: Optional[str] = None  # plans
    installments: Tuple[Tuple[date, Money], ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps({
            "kind": self.kind,
            "account_ref": self.account_ref,
            "amount": _money_out(self.amount),
            "due": self.due.isoformat() if self.due else None,
            "purpose": self.purpose,
            "frequency": self.frequency,
            "installments": [[day.isoformat(), _money_out(amount)] for day, amount in self.installments],
        })

    @classmethod
    def from_json(cls, text: Optional[str]) -> Optional["Offer"]:
        if not text:
            return None
        data = json.loads(text)
        if data.get("kind") not in KINDS:
            return None
        return cls(
            kind=data["kind"],
            account_ref=data["account_ref"],
            amount=_money_in(data.get("amount")),
            due=date.fromisoformat(data["due"]) if data.get("due") else None,
            purpose=data.get("purpose"),
            frequency=data.get("frequency"),
            installments=tuple((date.fromisoformat(d), _money_in(m)) for d, m in data.get("installments") or []),
        )


def _money_out(money: Optional[Money]) -> Optional[List]:
    return [money.minor, money.currency] if money is not None else None


def _money_in(value) -> Optional[Money]:
    return Money(int(value[0]), value[1]) if value else None
