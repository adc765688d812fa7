"""Who is writing: the consumer behind a channel address or a signed personal link.

Identification names a candidate consumer; it proves nothing on its own. Verification (date of birth
and ZIP) still follows, and nothing about an account is disclosed before it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from bot.domain.accounts import Consumer, Statement
from bot.domain.channels import PHONE_ADDRESSED, policy_channel
from bot.domain.identity import phone_from_address
from bot.security import LinkSigner


@dataclass(frozen=True)
class Identification:
    consumer: Consumer
    method: str  # "phone" | "link"
    account_ref: Optional[str] = None


def identify(
    ledger, signer: LinkSigner, sender_id: str, input_channel: str, metadata: Optional[Mapping[str, Any]]
) -> Optional[Identification]:
    """A signed link wins over the address: it names the exact account the consumer was sent."""
    account_ref = signer.verify((metadata or {}).get("link_token"))
    if account_ref:
        consumer = ledger.consumer_by_account_ref(account_ref)
        if consumer is not None:
            return Identification(consumer, "link", account_ref)
    phone = phone_from_address(sender_id) if input_channel in PHONE_ADDRESSED else None
    if phone:
        consumer = ledger.consumer_by_phone(phone)
        if consumer is not None:
            return Identification(consumer, "phone")
    return None


def accounts_on_channel(ledger, consumer_id: int, input_channel: str) -> list[Statement]:
    """The consumer's accounts whose creditors allow this channel, open ones first."""
    channel = policy_channel(input_channel)
    return [s for s in ledger.accounts_of(consumer_id) if channel in (s.creditor.channels or ())]
