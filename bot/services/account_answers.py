"""Answers to a verified consumer's account questions, with the disclosures the creditor's role requires."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional, Sequence

from bot.domain.accounts import Statement
from bot.domain.channels import policy_channel
from bot.domain.communications import Communication
from bot.replies import ACCOUNT_QUESTIONS, Reply, balance_replies
from bot.services.identification import accounts_on_channel

AGENCY_DISCLOSURES = ("utter_debt_collector_disclosure", "utter_attempt_to_collect")


@dataclass(frozen=True)
class Answer:
    replies: List[Reply]
    account_ref: Optional[str]


def choose_account(statements: Sequence[Statement], preferred_ref: Optional[str]) -> Statement:
    """The account the consumer named or was talking about, else their first open account."""
    for statement in statements:
        if preferred_ref and statement.account_ref == preferred_ref:
            return statement
    return next((s for s in statements if s.is_open), statements[0])


def answer_account_question(
    ledger,
    consumer_id: int,
    input_channel: str,
    account_ref: Optional[str],
    request: Optional[str],
    locale: str,
    now: datetime,
    conversation_id: str,
    disclose: bool = True,
    only_disclose: bool = False,
) -> Answer:
    """Replies for `request` (an intent name, or None for 'how can I help?') about the right account.

    `only_disclose`: the conversation continues elsewhere (a payment flow); say just the disclosures.
    """
    statements = accounts_on_channel(ledger, consumer_id, input_channel)
    if not statements:
        return Answer([Reply("utter_channel_redirect")], None)
    active = choose_account(statements, account_ref)
    replies: List[Reply] = []
    if disclose and any(s.creditor.is_agency for s in statements):
        replies += [Reply(name) for name in AGENCY_DISCLOSURES]
        ledger.log_communications([Communication("out", policy_channel(input_channel), conversation_id, conversation_id,
                                                 active.account_ref, "disclosure", name, now)
                                   for name in AGENCY_DISCLOSURES])
    if not only_disclose:
        replies += _replies_for(request, statements, active, locale)
    return Answer(replies, active.account_ref)


def _replies_for(request, statements, active: Statement, locale: str) -> List[Reply]:
    if request == "ask_balance":
        return [reply for statement in statements for reply in balance_replies(statement, locale)]
    handler = ACCOUNT_QUESTIONS.get(request)
    if handler is None:
        return [Reply("utter_how_can_i_help")]
    replies = handler(active, locale)
    others = len(statements) - 1
    if others:
        replies.append(Reply("utter_other_accounts", {"count": str(others)}))
    return replies
