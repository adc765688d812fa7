"""What the assistant says about an account, as response names with their formatted arguments.

Actions dispatch these; the text itself lives in the response catalog (domain.yml and locales/).
Keeping the choice of responses here makes it testable without Rasa.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List

from bot.domain.accounts import Creditor, Statement
from bot.i18n import format_day, format_money


@dataclass(frozen=True)
class Reply:
    response: str
    arguments: Dict[str, str] = field(default_factory=dict)


def owed_to(creditor: Creditor) -> str:
    """Whom the consumer owes: an agency collects for its client, the original creditor."""
    if creditor.is_agency and creditor.original_creditor:
        return creditor.original_creditor
    return creditor.name


def balance_replies(statement: Statement, locale: str) -> List[Reply]:
    arguments = {
        "creditor": owed_to(statement.creditor),
        "balance": format_money(statement.balance, locale),
    }
    if statement.balance.minor > 0 and statement.due_since is not None:
        arguments["due_since"] = format_day(statement.due_since, locale)
        return [Reply("utter_balance_due", arguments)]
    return [Reply("utter_balance_clear", arguments)]


def itemization_replies(statement: Statement, locale: str) -> List[Reply]:
    replies = [
        Reply(
            "utter_itemization_intro",
            {"balance": format_money(statement.balance, locale), "creditor": owed_to(statement.creditor)},
        )
    ]
    replies += [
        Reply(
            "utter_line_item",
            {
                "date": format_day(item.date, locale),
                "reference": item.reference,
                "description": item.description,
                "amount": format_money(item.amount, locale),
            },
        )
        for item in statement.line_items
    ]
    replies += _payment_replies(statement, locale)
    if statement.interest_and_fees.minor:
        replies.append(
            Reply("utter_interest_and_fees", {"amount": format_money(statement.interest_and_fees, locale)})
        )
    else:
        replies.append(Reply("utter_no_interest_or_fees"))
    return replies


def _payment_replies(statement: Statement, locale: str) -> List[Reply]:
    if not statement.payments_and_credits:
        return [Reply("utter_no_payments")]
    return [Reply("utter_payments_intro")] + [
        Reply(
            "utter_payment_entry",
            {
                "date": format_day(entry.posted_at.date(), locale),
                "description": entry.description or entry.kind,
                "amount": format_money(entry.amount, locale),
            },
        )
        for entry in statement.payments_and_credits
    ]


def creditor_replies(statement: Statement, locale: str) -> List[Reply]:
    """Who is owed, who collects (an agency collects for its client), and the reference."""
    creditor = statement.creditor
    if creditor.is_agency:
        arguments = {
            "creditor": owed_to(creditor),
            "collector": creditor.collector_name or creditor.name,
            "account_ref": statement.account_ref,
        }
        return [Reply("utter_creditor_agency", arguments)]
    replies = [
        Reply("utter_creditor_first_party", {"creditor": creditor.name, "account_ref": statement.account_ref})
    ]
    if creditor.original_creditor and creditor.original_creditor != creditor.name:
        replies.append(Reply("utter_original_creditor", {"original_creditor": creditor.original_creditor}))
    return replies


ACCOUNT_QUESTIONS: Dict[str, Callable[[Statement, str], List[Reply]]] = {
    "ask_balance": balance_replies,
    "ask_balance_details": itemization_replies,
    "ask_creditor": creditor_replies,
}
