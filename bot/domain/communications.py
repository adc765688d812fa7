"""A message in or out, as the communications record keeps it (Regulation F 1006.100)."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Optional


class Communication(NamedTuple):
    direction: str  # "in" or "out"
    channel: str
    address: str
    conversation_id: str
    account_ref: Optional[str]
    kind: str  # message, agent_message, disclosure, ...
    body: str
    at: datetime
