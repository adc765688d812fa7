"""SqlAgents: agent accounts and the agent's side of a handoff (take, reply, resolve).

Status changes are single conditional UPDATEs (`... WHERE status = 'open'`), so when two agents
take or resolve the same handoff at once exactly one of them wins, on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.ledger import schema as t
from bot.ledger.schema_agents import agent_messages, agents
from bot.ledger.store import SqlStore


class AgentExists(Exception):
    """An agent with that username is already on file."""


class SqlAgents(SqlStore):
    # --- agent accounts ---------------------------------------------------------------------------

    def add_agent(self, username: str, display_name: str, password_hash: str, at: datetime) -> None:
        values = dict(username=username, display_name=display_name, password_hash=password_hash, created_at=at)
        try:
            with self._write() as connection:
                connection.execute(insert(agents).values(**values))
        except IntegrityError:
            raise AgentExists(f"an agent named {username!r} already exists") from None

    def set_password(self, username: str, password_hash: str) -> bool:
        with self._write() as connection:
            result = connection.execute(
                update(agents).where(agents.c.username == username).values(password_hash=password_hash))
        return result.rowcount == 1

    def agent(self, username: str) -> Optional[Dict[str, Any]]:
        """{username, display_name, password_hash}, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(agents).where(agents.c.username == username)).first()
        return dict(username=row.username, display_name=row.display_name, password_hash=row.password_hash) \
            if row else None

    def agent_count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(agents)).scalar_one())

    # --- handoff transitions ----------------------------------------------------------------------

    def take(self, handoff_id: int, agent: str, at: datetime) -> bool:
        """Open -> assigned to `agent`; False when someone else got there first (or it is closed)."""
        h = t.handoffs
        with self._write() as connection:
            result = connection.execute(
                update(h).where(h.c.id == handoff_id, h.c.status == "open")
                .values(status="assigned", assigned_agent=agent, assigned_at=at))
        return result.rowcount == 1

    def resolve(self, handoff_id: int, agent: str, outcome: str, note: str, at: datetime) -> bool:
        """Open, or assigned to `agent` -> resolved; False when resolved already or held by another agent."""
        h = t.handoffs
        mine = (h.c.status == "open") | ((h.c.status == "assigned") & (h.c.assigned_agent == agent))
        with self._write() as connection:
            result = connection.execute(
                update(h).where(h.c.id == handoff_id, mine)
                .values(status="resolved", resolved_at=at, outcome=outcome, resolution_note=note,
                        assigned_agent=func.coalesce(h.c.assigned_agent, agent)))
        return result.rowcount == 1

    # --- what agents wrote ------------------------------------------------------------------------

    def add_message(self, handoff_id: int, agent: str, body: str, at: datetime) -> int:
        values = dict(handoff_id=handoff_id, agent_username=agent, body=body, created_at=at)
        with self._write() as connection:
            return int(connection.execute(insert(agent_messages).values(**values)).inserted_primary_key[0])

    def mark_delivered(self, message_id: int, at: Optional[datetime], error: Optional[str] = None) -> None:
        with self._write() as connection:
            connection.execute(update(agent_messages).where(agent_messages.c.id == message_id)
                               .values(delivered_at=at, delivery_error=error))

    def messages(self, handoff_id: int) -> List[Dict[str, Any]]:
        m = agent_messages
        query = select(m).where(m.c.handoff_id == handoff_id).order_by(m.c.created_at, m.c.id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            {"id": r.id, "agent": r.agent_username, "text": r.body, "created_at": r.created_at.isoformat(),
             "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
             "delivery_error": r.delivery_error}
            for r in rows
        ]
