"""When people are at work on the handoff queue (AGENT_HOURS), and when the next one will be.

Format: `DAYS HH:MM-HH:MM ZONE`, e.g. "mon-fri 09:00-17:00 America/New_York" or
"mon,wed,fri 10:00-14:00 Europe/Madrid". Unset or "always": someone is always there.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import FrozenSet, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class AgentHours:
    days: FrozenSet[int]  # 0 = Monday
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: Optional[str]) -> Optional["AgentHours"]:
        """None for "always" or nothing; ValueError naming the problem for anything malformed."""
        parts = (text or "").split()
        if not parts or (len(parts) == 1 and parts[0].lower() == "always"):
            return None
        if len(parts) != 3:
            raise ValueError(f'AGENT_HOURS must look like "mon-fri 09:00-17:00 America/New_York", got {text!r}')
        days, hours, zone = parts[0].lower(), parts[1], parts[2]  # zone names are case-sensitive
        start, _, end = hours.partition("-")
        try:
            opens, closes = time.fromisoformat(start), time.fromisoformat(end)
            zone_info = ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise ValueError(f"AGENT_HOURS: {exc}") from None
        if opens >= closes:
            raise ValueError("AGENT_HOURS: the opening time must come before the closing time")
        return cls(_parse_days(days), opens, closes, zone_info)

    def next_opening(self, now: datetime) -> Optional[datetime]:
        """None when someone is at work at `now`; else when the next working period starts."""
        local = now.astimezone(self.zone)
        if local.weekday() in self.days and self.start <= local.time() < self.end:
            return None
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            opening = datetime.combine(day, self.start, tzinfo=self.zone)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("AGENT_HOURS names no working day")  # unreachable: _parse_days refuses none


def _parse_days(text: str) -> FrozenSet[int]:
    days = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"AGENT_HOURS: unknown day in {part!r}; use mon, tue, wed, thu, fri, sat, sun")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)

