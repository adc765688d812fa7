"""What the assistant says about an account, as response names with their formatted arguments.

Actions dispatch these; the text itself lives in the response catalog (domain.yml and locales/).
Keeping the choice of responses here makes it testable without Rasa.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List

from babel.lists import format_list

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


# Payments ---------------------------------------------------------------------------------------

# One response per frequency: the frequency word is part of each translated sentence.
PLAN_OPTION = {"weekly": "utter_plan_option_weekly", "biweekly": "utter_plan_option_biweekly",
               "monthly": "utter_plan_option_monthly"}
CONFIRM_PLAN = {"weekly": "utter_confirm_plan_weekly", "biweekly": "utter_confirm_plan_biweekly",
                "monthly": "utter_confirm_plan_monthly"}
CHOOSE_PLAN = {1: "utter_choose_plan_1", 2: "utter_choose_plan_2", 3: "utter_choose_plan_3"}

def offer_replies(offer, locale: str) -> List[Reply]:
    """The confirmation question for an offer: every number the consumer is agreeing to."""
    if offer.kind == "payment":
        return [Reply("utter_confirm_payment", {"amount": format_money(offer.amount, locale)})]
    if offer.kind == "promise":
        return [Reply("utter_confirm_promise", {"amount": format_money(offer.amount, locale),
                                                "date": format_day(offer.due, locale)})]
    if offer.kind == "plan":
        schedule = format_list([f"{format_day(day, locale)}: {format_money(amount, locale)}"
                                for day, amount in offer.installments], locale=locale)
        return [Reply(CONFIRM_PLAN[offer.frequency], {
            "count": str(len(offer.installments)), "schedule": schedule,
            "total": format_money(offer.amount, locale)})]
    return [Reply("utter_confirm_cancel_plan")]


def plan_option_replies(offers, balance, locale: str) -> List[Reply]:
    replies = [Reply("utter_plan_options", {"balance": format_money(balance, locale)})]
    for number, offer in enumerate(offers, start=1):
        first_due, first_amount = offer.installments[0]
        replies.append(Reply(PLAN_OPTION[offer.frequency], {
            "number": str(number), "count": str(len(offer.installments)),
            "amount": format_money(first_amount, locale), "first_date": format_day(first_due, locale)}))
    replies.append(Reply(CHOOSE_PLAN[len(offers)]))
    return replies


REFUSALS = {
    "nothing_due": "utter_nothing_due",
    "collection_stopped": "utter_collection_paused",
    "settlement_not_offered": "utter_no_settlement",
}


def refusal_reply(reason: str, options, locale: str) -> Reply:
    """Why the backend would not create what was confirmed (the account changed in between)."""
    if reason in REFUSALS:
        return Reply(REFUSALS[reason])
    if reason in ("above_balance", "amount_above_balance"):
        return Reply("utter_amount_above_balance", {"balance": format_money(options.collectible, locale)})
    if reason in ("below_minimum", "amount_too_small") and options.minimum_partial is not None:
        return Reply("utter_amount_below_minimum", {"minimum": format_money(options.minimum_partial, locale)})
    return Reply("utter_could_not_set_up")


def payment_outcome_reply(view, event: str, locale: str) -> Reply:
    """The receipt or the kind news after a payment event (EXTERNAL_payment_outcome)."""
    amount = format_money(view.amount, locale)
    balance = format_money(view.balance_after, locale) if view.balance_after is not None else ""
    if event == "payment_refunded":
        return Reply("utter_payment_refunded", {"amount": format_money(view.refunded, locale), "balance": balance})
    if event == "payment_reversed":
        return Reply("utter_payment_chargeback", {"amount": amount, "balance": balance})
    if event == "plan_setup_complete":
        return Reply("utter_plan_setup_complete")
    if event == "plan_broken":
        return Reply("utter_plan_broken")
    if event == "payment_link_ready":
        return Reply("utter_payment_link_ready", {"amount": amount, "url": view.url or ""})
    if view.outcome == "paid":
        return Reply("utter_payment_succeeded", {"amount": amount, "balance": balance})
    if view.installment_seq is not None and view.next_retry_at is not None:
        return Reply("utter_installment_failed", {"amount": amount, "date": format_day(view.next_retry_at.date(), locale)})
    if view.url is None:
        return Reply("utter_payment_failed_no_link", {"amount": amount})
    response = "utter_payment_insufficient_funds" if view.decline_reason == "insufficient_funds" else "utter_payment_declined"
    return Reply(response, {"amount": amount, "url": view.url})


STATUS_OF_OUTCOME = {"paid": "utter_payment_status_succeeded", "pending": "utter_payment_status_pending"}


def payment_status_replies(status, locale: str, shown: int = 3) -> List[Reply]:
    """'Did my payment go through?': the latest payment requests and the plan's next installment."""
    replies = [
        Reply(STATUS_OF_OUTCOME.get(view.outcome, "utter_payment_status_failed"), {
            "date": format_day((view.completed_at or view.created_at).date(), locale),
            "amount": format_money(view.amount, locale)})
        for view in status.requests[:shown]
    ]
    upcoming = status.next_installment
    if upcoming is not None:
        replies.append(Reply("utter_plan_status", {"amount": format_money(upcoming.amount, locale),
                                                   "date": format_day(upcoming.due, locale)}))
    return replies or [Reply("utter_payment_status_none")]
