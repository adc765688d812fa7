"""Consumer-facing text outside the conversation: the web chat page, the payment pages, and what a
payment is for (also the line item Stripe Checkout shows), in the consumer's language.

The English source text is written here, each string in a ``t.pgettext(context, text)`` call;
``pybabel extract`` finds them (the python section of ``locales/babel.cfg``), and the
translations live in the same ``locales/<lang>/LC_MESSAGES/messages.po`` as the responses, under
the contexts ``ui|webchat``, ``ui|payment_page`` and ``ui|payment_purpose``. Rendering goes
through :meth:`bot.translations.Catalogs.translate`, so a missing translation falls back to the
English exactly as a response does, and ``{placeholders}`` are checked the same way.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from bot.translations import SOURCE_LANGUAGE, normalize_language

BRAND = "Resolve"  # a name, the same in every language


class _Translator:
    """``pgettext`` for one language over the compiled catalogs (bootstrap's, unless given)."""

    def __init__(self, language: Optional[str], catalogs: Any = None) -> None:
        if catalogs is None:
            from bot import bootstrap

            catalogs = bootstrap.catalogs()
        self.catalogs = catalogs
        self.language = ui_language(language, catalogs)

    def pgettext(self, context: str, english: str) -> str:
        return self.catalogs.translate(self.language, context, english)


def ui_language(requested: Optional[str], catalogs: Any = None) -> str:
    """The language a page is shown in: the requested one if it has a catalog, else English.

    Accepts "es", "es-US", "ES_mx" (-> "es").
    """
    if catalogs is None:
        from bot import bootstrap

        catalogs = bootstrap.catalogs()
    language = normalize_language((requested or "").strip() or None)
    return language if language in catalogs.languages else SOURCE_LANGUAGE


def webchat_strings(language: Optional[str], catalogs: Any = None) -> Dict[str, str]:
    """The chat page's visible strings (the page template and chat.js read them by key)."""
    t = _Translator(language, catalogs)
    return {
        "title": BRAND,
        "subtitle": t.pgettext("ui|webchat", "Secure chat"),
        "log_label": t.pgettext("ui|webchat", "Conversation"),
        "input_label": t.pgettext("ui|webchat", "Your message"),
        "placeholder": t.pgettext("ui|webchat", "Type a message…"),
        "send": t.pgettext("ui|webchat", "Send"),
        "connecting": t.pgettext("ui|webchat", "connecting…"),
        "reconnecting": t.pgettext("ui|webchat", "connection lost, retrying…"),
        "unavailable": t.pgettext("ui|webchat", "The chat is unavailable right now. Please try again later."),
        "typing": t.pgettext("ui|webchat", "The assistant is typing…"),
        "you": t.pgettext("ui|webchat", "You"),
        "assistant": t.pgettext("ui|webchat", "Assistant"),
        "open_attachment": t.pgettext("ui|webchat", "Open attachment"),
        "card_warning_hint": t.pgettext("ui|webchat", "Never type card numbers in this chat."),
        "empty": t.pgettext("ui|webchat", "Send a message to get started."),
        "suggestions": t.pgettext("ui|webchat", "Suggested replies"),
    }


def payment_page_strings(language: Optional[str], catalogs: Any = None) -> Dict[str, str]:
    """The hosted payment page and its status pages; ``{name}`` placeholders are str.format's."""
    t = _Translator(language, catalogs)
    return {
        "title": t.pgettext("ui|payment_page", "Secure payment"),
        "heading": t.pgettext("ui|payment_page", "Pay {creditor}"),
        "amount_label": t.pgettext("ui|payment_page", "Amount"),
        "for_label": t.pgettext("ui|payment_page", "For"),
        "account_label": t.pgettext("ui|payment_page", "Account"),
        "setup_note": t.pgettext("ui|payment_page",
                                 "Nothing is charged now. Your card is saved for the plan's payments."),
        "expires": t.pgettext("ui|payment_page", "This link expires on {moment}."),
        "card_number": t.pgettext("ui|payment_page", "Card number"),
        "exp": t.pgettext("ui|payment_page", "Expiry (MM/YY)"),
        "cvc": t.pgettext("ui|payment_page", "Security code (CVC)"),
        "pay": t.pgettext("ui|payment_page", "Pay {amount}"),
        "save": t.pgettext("ui|payment_page", "Save card"),
        "secure": t.pgettext("ui|payment_page",
                             "Your card details are used only for this payment and are never stored."),
        "sandbox": t.pgettext("ui|payment_page", "Test mode: no real money moves. Use 4242 4242 4242 4242 "
                                                 "with any future date and any 3 digits."),
        "paid_heading": t.pgettext("ui|payment_page", "Thank you, your payment went through"),
        "paid_body": t.pgettext("ui|payment_page", "We received {amount}. You will get a confirmation in your "
                                                   "chat. You can close this page."),
        "saved_heading": t.pgettext("ui|payment_page", "Your card is saved"),
        "saved_body": t.pgettext("ui|payment_page", "Your payment plan is set up. You can close this page."),
        "pending_heading": t.pgettext("ui|payment_page", "We are confirming your payment"),
        "pending_body": t.pgettext("ui|payment_page",
                                   "This can take a minute. We will message you in your chat when it is done."),
        "unpaid_heading": t.pgettext("ui|payment_page", "Payment not completed"),
        "unpaid_body": t.pgettext("ui|payment_page", "Nothing was charged. You can return to the chat to try again."),
        "closed_heading": t.pgettext("ui|payment_page", "This payment link is no longer active"),
        "closed_body": t.pgettext("ui|payment_page",
                                  "It expired or was replaced by a newer link. Return to the chat for a new one."),
        "refunded_heading": t.pgettext("ui|payment_page", "This payment was refunded"),
        "refunded_body": t.pgettext("ui|payment_page", "Return to the chat if you have questions."),
        "unknown_heading": t.pgettext("ui|payment_page", "Payment link not found"),
        "unknown_body": t.pgettext("ui|payment_page", "Check the link, or return to the chat for a new one."),
        "error_heading": t.pgettext("ui|payment_page", "Something went wrong"),
        "error_body": t.pgettext("ui|payment_page", "Nothing was charged. Please try again in a few minutes."),
        "declined": t.pgettext("ui|payment_page", "Your card was declined. Nothing was charged. Try another card."),
        "insufficient_funds": t.pgettext("ui|payment_page", "Your card has insufficient funds. Nothing was "
                                                            "charged. Try another card."),
        "invalid_number": t.pgettext("ui|payment_page", "That card number is not valid. Check it and try again."),
        "invalid_expiry": t.pgettext("ui|payment_page", "Enter the expiry date as MM/YY."),
        "expired_card": t.pgettext("ui|payment_page", "That card has expired. Try another card."),
        "invalid_cvc": t.pgettext("ui|payment_page",
                                  "Enter the 3-digit security code (4 digits on American Express)."),
        # Regulated wording (Reg F 1006.18(e)): the same sentence as utter_debt_collector_disclosure.
        "collector": t.pgettext("ui|payment_page", "This is a communication from a debt collector."),
    }


def purpose_labels(language: Optional[str], catalogs: Any = None) -> Dict[str, str]:
    """What a payment is for, by purpose; ``{seq}`` and ``{count}`` number an installment."""
    t = _Translator(language, catalogs)
    return {
        "full": t.pgettext("ui|payment_purpose", "Payment in full"),
        "partial": t.pgettext("ui|payment_purpose", "Partial payment"),
        "settlement": t.pgettext("ui|payment_purpose", "Settlement payment"),
        "installment": t.pgettext("ui|payment_purpose", "Payment plan installment {seq} of {count}"),
        "setup": t.pgettext("ui|payment_purpose", "Save a card for your payment plan"),
    }
