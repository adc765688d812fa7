"""Contact hours and the consumer's calendar for payments (the rule itself: bot.domain.quiet_hours).

A proactive message (an installment that failed overnight, a refund) waits for 8am-9pm in the
consumer's zone, or a moment allowed in every US zone when theirs is unknown. A reply to something
the consumer just did (they paid on the page a minute ago) is not proactive and goes out at once.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.quiet_hours import next_allowed


def _zone(name: Optional[str]) -> Optional[ZoneInfo]:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def next_contact_time(now: datetime, timezone_name: Optional[str]) -> datetime:
    """`now` when a proactive message is allowed, else the next allowed moment."""
    return next_allowed(now, timezone_name) or now + timedelta(hours=24)


def local_today(now: datetime, timezone_name: Optional[str]) -> date:
    """The consumer's calendar date (due dates and promise dates are theirs, not UTC's)."""
    zone = _zone(timezone_name)
    return now.astimezone(zone).date() if zone else now.date()


def local_moment(day: date, hour: int, timezone_name: Optional[str], tz: tzinfo) -> datetime:
    """`hour`:00 on `day` in the consumer's zone (UTC when unknown), as an aware datetime in `tz`."""
    zone = _zone(timezone_name) or tz
    return datetime.combine(day, time(hour, 0), tzinfo=zone).astimezone(tz)
