"""When a proactive message may go out: 8am to 9pm in the consumer's local time (Reg F 1006.6(b)(1)(i)).

A time zone that is unknown or unreadable means every zone the consumer could be in: a moment is
allowed only when it is allowed in all of them. Standard library only (zoneinfo handles DST).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Iterable, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EARLIEST = time(8, 0)  # inclusive
LATEST = time(21, 0)  # exclusive: 9pm itself is too late
# Every zone a consumer of a US collector could be in: the states and the inhabited territories.
US_ZONES: Tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Adak",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Pacific/Guam",
    "Pacific/Pago_Pago",
)


def _zone(name: Optional[str]) -> Optional[ZoneInfo]:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zones_for(timezone_name: Optional[str], possible: Iterable[str] = US_ZONES) -> Tuple[ZoneInfo, ...]:
    """The consumer's zone, or every possible zone when it is unknown."""
    known = _zone(timezone_name)
    if known is not None:
        return (known,)
    return tuple(ZoneInfo(name) for name in possible)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware one")
    return moment


def allowed_in(moment: datetime, zone: ZoneInfo) -> bool:
    local = _aware(moment).astimezone(zone).time()
    return EARLIEST <= local < LATEST


def allowed(moment: datetime, timezone_name: Optional[str], possible: Iterable[str] = US_ZONES) -> bool:
    """Whether a proactive message may be sent at `moment` to a consumer in `timezone_name`."""
    return all(allowed_in(moment, zone) for zone in zones_for(timezone_name, possible))


def next_allowed(
    moment: datetime, timezone_name: Optional[str], possible: Iterable[str] = US_ZONES
) -> Optional[datetime]:
    """The earliest moment at or after `moment` when a proactive message may go out.

    The allowed time is an intersection of daily windows, so it opens either now or when one of
    the zones reaches 8am: those are the only candidates worth checking. None when the zones
    never share an allowed moment in the next days (an impossible set of zones).
    """
    zones = zones_for(timezone_name, tuple(possible))
    if all(allowed_in(moment, zone) for zone in zones):
        return moment
    candidates = []
    for zone in zones:
        today = _aware(moment).astimezone(zone).date()
        for days in range(0, 4):
            day = today + timedelta(days=days)
            opening = datetime.combine(day, EARLIEST, tzinfo=zone).astimezone(moment.tzinfo)
            if opening >= moment:
                candidates.append(opening)
    for candidate in sorted(candidates):
        if all(allowed_in(candidate, zone) for zone in zones):
            return candidate
    return None
