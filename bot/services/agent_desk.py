"""The agent's side of a handoff: the queue, the research summary, take, reply, resolve.

Taking a handoff pauses the bot in that conversation; resolving it resumes the bot. Status changes
are atomic in the database (bot.ledger.agents), so two agents never both take or resolve one handoff.
Talking to the conversation goes through a port (`conversations`: pause, resume, say), in
production Rasa's HTTP API (bot.adapters.rasa_conversations).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from bot.domain.accounts import AccountNotFound
from bot.domain.money import Money
from bot.i18n import format_money

logger = logging.getLogger(__name__)

AGENT_LOCALE = "en_US"
MAX_MESSAGE_LENGTH = 1600
MAX_NOTE_LENGTH = 4000
# Outcome -> what it does besides being recorded (docs/agents.md).
OUTCOMES: Dict[str, str] = {
    "dispute_upheld": "the consumer is right: the disputed amount comes off the balance (ledger entry)",
    "dispute_verified": "the debt is verified: the hold is lifted and the verification is sent",
    "payment_found": "the payment the consumer reported was found and applied",
    "arrangement_made": "the agent agreed a plan, extension or hardship arrangement",
    "circumstance_confirmed": "bankruptcy, attorney, deceased or cease request confirmed; collection stays stopped",
    "question_answered": "the consumer's question was answered",
    "no_action": "nothing to do (duplicate, no reply, or the consumer left)",
}
DISPUTE_OUTCOMES = ("dispute_upheld", "dispute_verified")


class HandoffNotFound(Exception):
    pass


class HandoffConflict(Exception):
    """The handoff is held by another agent, or resolved already."""


class InvalidRequest(ValueError):
    """The agent's request cannot be carried out as given (bad outcome, empty text, ...)."""


class DeliveryFailed(Exception):
    """The reply is recorded but did not reach the consumer's channel."""


class AgentDesk:
    def __init__(self, ledger, agents, conversations, disputes=None, catalogs=None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.ledger = ledger
        self.agents = agents
        self.conversations = conversations
        self.disputes = disputes  # bot.services.disputes.Disputes: uphold, verify
        self.catalogs = catalogs  # bot.translations.Catalogs: renders the notices disputes ask us to send
        self.clock = clock

    # --- reading ----------------------------------------------------------------------------------

    def queue(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        """The queue as the API lists it (no transcripts): unresolved first, then by priority and age."""
        handoffs = [_summary(h) for h in self.ledger.handoffs(status)]
        return sorted(handoffs, key=lambda h: h["status"] == "resolved")

    def detail(self, handoff_id: int) -> Dict[str, Any]:
        handoff = self._handoff(handoff_id)
        return dict(
            _summary(handoff),
            conversation_id=handoff["conversation_id"],
            resolution_note=handoff["resolution_note"],
            transcript=self.transcript(handoff),
            agent_messages=self.agents.messages(handoff_id),
            research=self.research(handoff),
        )

    def transcript(self, handoff: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The communications record of the conversation (live), or the transcript taken at handoff."""
        record = self.ledger.communications(handoff["conversation_id"])
        if not record:
            return [{"role": m.get("role"), "text": m.get("text"), "at": m.get("timestamp")}
                    for m in handoff["transcript"]]
        return [{"role": _role(m), "text": m["body"], "at": m["recorded_at"], "channel": m["channel"]}
                for m in record]

    def research(self, handoff: Dict[str, Any]) -> Dict[str, Any]:
        """What an agent needs before answering: account, line items, money moved, disputes, holds."""
        ref = handoff["account_ref"]
        previous = [_summary(h) for h in self.ledger.handoffs()
                    if h["id"] != handoff["id"] and h["account_ref"] and h["account_ref"] == ref]
        if not ref:
            return {"account": None, "previous_handoffs": []}
        try:
            statement = self.ledger.statement(ref)
            view = self.ledger.account_json(ref)
        except AccountNotFound:
            return {"account": None, "previous_handoffs": previous}
        money = lambda cents: format_money(Money(cents, statement.currency), AGENT_LOCALE)  # noqa: E731
        return {
            "account": {
                "account_ref": statement.account_ref,
                "creditor": statement.creditor.name,
                "creditor_role": statement.creditor.role,
                "consumer": statement.consumer.full_name,
                "language": statement.consumer.language,
                "timezone": statement.consumer.timezone,
                "status": statement.status,
                "balance": money(statement.balance.minor),
                "balance_cents": statement.balance.minor,
                "flags": list(statement.flags),
            },
            "line_items": [{"date": i.date.isoformat(), "reference": i.reference, "description": i.description,
                            "amount": money(i.amount.minor)} for i in statement.line_items],
            "payments": view["payments"],
            "plans": view["plans"],
            "promises": view["promises"],
            "disputes": view["disputes"],
            "holds": view["holds"],
            "previous_handoffs": previous,
        }

    # --- acting -----------------------------------------------------------------------------------

    def take(self, handoff_id: int, agent: str) -> Dict[str, Any]:
        """Assign the handoff to `agent` and pause the bot in that conversation."""
        handoff = self._handoff(handoff_id)
        if not self.agents.take(handoff_id, agent, self.clock()):
            handoff = self._handoff(handoff_id)
            if handoff["status"] != "assigned" or handoff["assigned_agent"] != agent:
                raise HandoffConflict(_conflict(handoff))
        try:
            self.conversations.pause(handoff["conversation_id"])
        except Exception as exc:  # assigned but the bot still answers: taking it again retries the pause
            raise DeliveryFailed(f"could not pause the bot: {exc}") from None
        return self._handoff(handoff_id)

    def reply(self, handoff_id: int, agent: str, text: Any) -> Dict[str, Any]:
        """Send the agent's words to the consumer on their channel (taking an open handoff first)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest('"text" must be a non-empty string')
        if len(text) > MAX_MESSAGE_LENGTH:
            raise InvalidRequest(f'"text" is longer than {MAX_MESSAGE_LENGTH} characters')
        handoff = self._handoff(handoff_id)
        if handoff["status"] != "assigned" or handoff["assigned_agent"] != agent:
            handoff = self.take(handoff_id, agent)
        message_id = self.agents.add_message(handoff_id, agent, text.strip(), self.clock())
        try:
            self.conversations.say(handoff["conversation_id"], text.strip(), agent)
        except Exception as exc:
            self.agents.mark_delivered(message_id, None, str(exc))
            raise DeliveryFailed(str(exc)) from None
        self.agents.mark_delivered(message_id, self.clock())
        return next(m for m in self.agents.messages(handoff_id) if m["id"] == message_id)

    def resolve(self, handoff_id: int, agent: str, outcome: Any, note: Any = "") -> Dict[str, Any]:
        """Close the handoff with an outcome, carry the outcome out, and hand the conversation back."""
        if outcome not in OUTCOMES:
            raise InvalidRequest(f'"outcome" must be one of: {", ".join(OUTCOMES)}')
        if note is None:
            note = ""
        if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
            raise InvalidRequest(f'"note" must be text of at most {MAX_NOTE_LENGTH} characters')
        handoff = self._handoff(handoff_id)
        dispute_id = handoff.get("dispute_id")
        if outcome in DISPUTE_OUTCOMES and (self.disputes is None or dispute_id is None):
            raise InvalidRequest(f"{outcome} needs a handoff that came from a dispute")
        if not self.agents.resolve(handoff_id, agent, outcome, note, self.clock()):
            raise HandoffConflict(_conflict(self._handoff(handoff_id)))
        if outcome in DISPUTE_OUTCOMES:
            close = self.disputes.uphold if outcome == "dispute_upheld" else self.disputes.verify
            self._send_notice(close(dispute_id, agent, note).notice)
        try:
            self.conversations.resume(handoff["conversation_id"])
        except Exception:  # resolved all the same; the next take/resume fixes the tracker
            logger.exception("could not hand conversation %s back to the bot", handoff["conversation_id"])
        return self._handoff(handoff_id)

    def _send_notice(self, notice) -> None:
        """What the consumer must be told about their dispute, in their language, on their channel."""
        if notice is None:
            return
        try:
            text = self.catalogs.render(notice.response, notice.language, None, notice.arguments)["text"]
            self.conversations.say(notice.conversation_id, text, None)
        except Exception:  # the resolution stands; the notice is in the log for a person to send
            logger.exception("could not send %s to conversation %s", notice.response, notice.conversation_id)

    def _handoff(self, handoff_id: int) -> Dict[str, Any]:
        handoff = self.ledger.handoff(handoff_id)
        if handoff is None:
            raise HandoffNotFound(f"no handoff {handoff_id}")
        return handoff


def _summary(h: Dict[str, Any]) -> Dict[str, Any]:
    keys = ("id", "account_ref", "reason", "status", "created_at", "priority", "channel", "assigned_agent",
            "assigned_at", "resolved_at", "outcome")
    return {key: h.get(key) for key in keys}


def _role(message: Dict[str, Any]) -> str:
    if message["direction"] == "in":
        return "consumer"
    return "agent" if message["kind"] == "agent_message" else "bot"


def _conflict(handoff: Dict[str, Any]) -> str:
    if handoff["status"] == "resolved":
        return f"handoff {handoff['id']} is resolved already"
    return f"handoff {handoff['id']} is held by {handoff['assigned_agent']}"
