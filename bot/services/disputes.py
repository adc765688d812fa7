"""The Disputes service: disputes, special circumstances and "I already paid" (journeys 9-13).

The conversation opens disputes and flags accounts; agents (the console) resolve disputes. Every
method is blocking I/O on the ledger: call it from a worker thread in async code.

Stable API (the agent console builds on it):
    open_dispute(account_ref, conversation_id=, channel=, reason=, words=, ...) -> OpenedDispute
    status(account_ref) -> list of Dispute, newest first
    dispute(dispute_id) -> Dispute
    uphold(dispute_id, agent, note) / verify(...) / withdraw(...) -> Resolution
    flag_account(account_ref, flag, source=, ...) -> bool
    collection_stopped(account_ref) -> the flag that stops collection, or None
    find_payment(account_ref, amount, paid_on) / record_payment_claim(...)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from bot.domain.accounts import LedgerEntry
from bot.domain.disputes import (
    ACCOUNT_FLAGS,
    DISPUTE_REASONS,
    PRIORITY_PAYMENT_CLAIM,
    PRIORITY_SPECIAL,
    STOP_FLAGS,
    Dispute,
    PaymentClaim,
    handoff_priority,
)
from bot.domain.money import Money
from bot.i18n import format_day, format_money, locale_for

# What the consumer is sent when an agent closes a dispute (responses in domain.yml).
RESOLUTION_RESPONSES = {
    "upheld": "utter_dispute_upheld",
    "verified": "utter_dispute_verified",
    "withdrawn": "utter_dispute_withdrawn",
}


@dataclass(frozen=True)
class OpenedDispute:
    dispute: Dispute
    created: bool  # False: this conversation turn had opened it already; nothing was written


@dataclass(frozen=True)
class ConsumerNotice:
    """A message for the consumer: a response name and its arguments, already formatted for `language`."""

    response: str
    arguments: Mapping[str, str]
    language: str
    conversation_id: str
    channel: str


@dataclass(frozen=True)
class Resolution:
    dispute: Dispute
    changed: bool  # False: the dispute was closed already; nothing was written
    adjustment: Optional[Money] = None  # the credit posted for an upheld dispute
    notice: Optional[ConsumerNotice] = None  # what the consumer must be sent (None when unchanged)


@dataclass
class Disputes:
    """Disputes on the ledger adapter (bot.ledger.disputes.SqlDisputes)."""

    store: Any
    language_of: Callable[[str], str] = field(default=lambda account_ref: "en")
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    # --- disputes ------------------------------------------------------------------------------------

    def open_dispute(self, account_ref: str, *, conversation_id: str, channel: str, reason: str, words: str,
                     amount: Optional[Money] = None, transcript: Sequence[Dict[str, Any]] = (),
                     turn_key: Optional[str] = None) -> OpenedDispute:
        """Record the dispute with the consumer's words, hold the disputed amount (the whole balance
        unless `amount` names less), and queue a prioritised handoff, all in one transaction.
        `turn_key` (default: conversation id + words) makes a repeated call for the same turn a no-op."""
        if reason not in DISPUTE_REASONS:
            raise ValueError(f"reason must be one of {DISPUTE_REASONS}, got {reason!r}")
        dispute, created = self.store.open_dispute(
            account_ref, conversation_id=conversation_id, channel=channel, reason=reason, words=words,
            amount=amount, turn_key=turn_key or f"{conversation_id}:{words}", transcript=list(transcript),
            at=self.clock(), priority=handoff_priority(reason),
            # "I already paid" goes to payment operations; every other dispute to dispute research.
            handoff_reason="payment_claim" if reason == "already_paid" else f"dispute:{reason}",
        )
        return OpenedDispute(dispute, created)

    def status(self, account_ref: str) -> List[Dispute]:
        """The account's disputes, newest first."""
        return self.store.disputes_of(account_ref)

    def dispute(self, dispute_id: int) -> Dispute:
        return self.store.dispute(dispute_id)

    def uphold(self, dispute_id: int, agent: str, note: str) -> Resolution:
        """The consumer is right: the disputed amount is credited (one adjustment entry), the hold released."""
        return self._resolve(dispute_id, "upheld", agent, note)

    def verify(self, dispute_id: int, agent: str, note: str) -> Resolution:
        """The debt is verified: the hold is released and the consumer is sent the verification."""
        return self._resolve(dispute_id, "verified", agent, note)

    def withdraw(self, dispute_id: int, agent: str, note: str) -> Resolution:
        """The consumer withdrew the dispute: the hold is released."""
        return self._resolve(dispute_id, "withdrawn", agent, note)

    def _resolve(self, dispute_id: int, status: str, agent: str, note: str) -> Resolution:
        dispute, credit, changed = self.store.resolve(dispute_id, status, agent, note, self.clock())
        if not changed:
            return Resolution(dispute, False)
        return Resolution(dispute, True, credit, self._notice(dispute, credit))

    def _notice(self, dispute: Dispute, credit: Optional[Money]) -> ConsumerNotice:
        language = self.language_of(dispute.account_ref)
        locale = locale_for(language)
        arguments = {
            "amount": format_money(dispute.amount, locale),
            "credit": format_money(credit or Money.zero(dispute.amount.currency), locale),
            "opened": format_day(dispute.opened_at.date(), locale),
            "account_ref": dispute.account_ref,
        }
        return ConsumerNotice(RESOLUTION_RESPONSES[dispute.status], arguments, language, dispute.conversation_id,
                              dispute.channel)

    # --- special circumstances ---------------------------------------------------------------------

    def flag_account(self, account_ref: str, flag: str, *, source: str, words: str = "",
                     conversation_id: Optional[str] = None, channel: Optional[str] = None,
                     transcript: Sequence[Dict[str, Any]] = ()) -> bool:
        """Stop collection at once (append-only flag row); with a conversation, queue a handoff in the
        same transaction. False when the flag was already in force (nothing written)."""
        if flag not in ACCOUNT_FLAGS:
            raise ValueError(f"flag must be one of {ACCOUNT_FLAGS}, got {flag!r}")
        handoff = None
        if conversation_id is not None:
            handoff = dict(conversation_id=conversation_id, channel=channel or "webchat", reason=flag,
                           transcript=list(transcript), priority=PRIORITY_SPECIAL)
        changed, _ = self.store.set_flag(account_ref, flag, active=True, source=source, words=words,
                                         at=self.clock(), handoff=handoff)
        return changed

    def clear_flag(self, account_ref: str, flag: str, *, source: str, note: str = "") -> bool:
        """An agent lifts a flag recorded by mistake (append-only: a clearing row)."""
        if flag not in ACCOUNT_FLAGS:
            raise ValueError(f"flag must be one of {ACCOUNT_FLAGS}, got {flag!r}")
        changed, _ = self.store.set_flag(account_ref, flag, active=False, source=source, words=note,
                                         at=self.clock())
        return changed

    def collection_stopped(self, account_ref: str) -> Optional[str]:
        """The flag that stops collection on the account (truthy), or None."""
        return next((flag for flag in self.store.flags_in_force(account_ref) if flag in STOP_FLAGS), None)

    def flag_history(self, account_ref: str) -> List[Dict[str, Any]]:
        return self.store.flag_history(account_ref)

    # --- "I already paid" --------------------------------------------------------------------------

    def find_payment(self, account_ref: str, amount: Optional[Money] = None,
                     paid_on: Optional[date] = None) -> Optional[LedgerEntry]:
        """A posted payment that matches what the consumer says, if the ledger has one."""
        return self.store.find_payment(account_ref, amount, paid_on)

    def record_payment_claim(self, account_ref: str, *, conversation_id: str, channel: str,
                             paid_on: Optional[date], amount: Optional[Money], method: Optional[str], words: str,
                             transcript: Sequence[Dict[str, Any]] = (),
                             turn_key: Optional[str] = None, handoff_id: Optional[int] = None) -> PaymentClaim:
        """Record the claim and hand it to payment operations (one transaction; once per turn).
        `handoff_id`: the handoff already queued for it (the already_paid dispute's); else one is opened."""
        claim, _ = self.store.record_payment_claim(
            account_ref, conversation_id=conversation_id, channel=channel, paid_on=paid_on, amount=amount,
            method=method, words=words, turn_key=turn_key or f"{conversation_id}:{words}",
            transcript=list(transcript), at=self.clock(), priority=PRIORITY_PAYMENT_CLAIM,
            handoff_reason="payment_claim", handoff_id=handoff_id,
        )
        return claim

    def payment_claims(self, account_ref: str) -> List[PaymentClaim]:
        return self.store.payment_claims(account_ref)
