"""Quiet hours (Reg F 1006.6(b)): 8am-9pm local, every possible zone when the zone is unknown, DST included."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.quiet_hours import US_ZONES, allowed, next_allowed

NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "moment, zone, expected",
    [
        (utc(2026, 11, 24, 13, 0), NEW_YORK, True),  # 8:00 EST exactly: the window opens
        (utc(2026, 11, 24, 12, 59), NEW_YORK, False),  # 7:59 EST
        (utc(2026, 11, 25, 1, 59), NEW_YORK, True),  # 20:59 EST
        (utc(2026, 11, 25, 2, 0), NEW_YORK, False),  # 21:00 EST: 9pm is already too late
        (utc(2026, 11, 24, 15, 0), LOS_ANGELES, False),  # 10:00 in New York but 7:00 in Los Angeles
        (utc(2026, 11, 24, 16, 0), LOS_ANGELES, True),  # 8:00 PST
        (utc(2026, 7, 1, 12, 0), NEW_YORK, True),  # 8:00 EDT in summer (UTC-4)
        (utc(2026, 1, 1, 12, 0), NEW_YORK, False),  # the same UTC time is 7:00 EST in winter
        (utc(2026, 7, 1, 18, 0), "America/Phoenix", True),  # Arizona keeps MST all year: 11:00
        (utc(2026, 7, 1, 18, 0), "Pacific/Honolulu", True),  # 8:00 HST
    ],
)
def test_allowed_between_8am_and_9pm_local(moment, zone, expected):
    assert allowed(moment, zone) is expected


def test_spring_forward_moves_the_window_by_an_hour_in_utc():
    # New York springs forward on 2026-03-08: 12:30 UTC is 7:30 EST the day before, 8:30 EDT that day.
    assert not allowed(utc(2026, 3, 7, 12, 30), NEW_YORK)
    assert allowed(utc(2026, 3, 8, 12, 30), NEW_YORK)


def test_fall_back_moves_the_evening_limit():
    # New York falls back on 2026-11-01: 01:30 UTC is 21:30 EDT before, 20:30 EST after.
    assert not allowed(utc(2026, 10, 31, 1, 30), NEW_YORK)
    assert allowed(utc(2026, 11, 2, 1, 30), NEW_YORK)


@pytest.mark.parametrize("zone", [None, "", "Not/AZone"])
def test_unknown_zone_means_every_possible_zone(zone):
    # 16:00 UTC is 11:00 in New York but 6:00 in Honolulu and 2:00 in Guam: not allowed everywhere.
    assert not allowed(utc(2026, 11, 24, 16, 0), zone)
    # 23:30 UTC is 18:30 New York, 13:30 Honolulu, 9:30 Guam, 12:30 Pago Pago: allowed in all.
    assert allowed(utc(2026, 11, 24, 23, 30), zone)
    for name in US_ZONES:
        assert allowed(utc(2026, 11, 24, 23, 30), name)


def test_next_allowed_is_now_when_allowed():
    moment = utc(2026, 11, 24, 18, 0)
    assert next_allowed(moment, NEW_YORK) == moment


def test_next_allowed_is_8am_local_the_next_morning():
    late = utc(2026, 11, 25, 3, 0)  # 22:00 EST on the 24th
    assert next_allowed(late, NEW_YORK) == datetime(2026, 11, 25, 8, 0, tzinfo=ZoneInfo(NEW_YORK))


def test_next_allowed_on_the_morning_clocks_change():
    before_dawn = utc(2026, 3, 8, 9, 0)  # 4:00 EST / 5:00 EDT: the clocks changed at 2am
    opening = next_allowed(before_dawn, NEW_YORK)
    assert opening == utc(2026, 3, 8, 12, 0)  # 8:00 EDT, not 8:00 EST
    assert opening.astimezone(ZoneInfo(NEW_YORK)).hour == 8


def test_next_allowed_with_an_unknown_zone_waits_for_the_last_zone_to_wake():
    moment = utc(2026, 11, 24, 16, 0)
    opening = next_allowed(moment, None)
    assert allowed(opening, None)
    assert opening == utc(2026, 11, 24, 22, 0)  # 8:00 in Guam (UTC+10), the last of the zones to wake
    assert not allowed(utc(2026, 11, 24, 21, 59), None)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        allowed(datetime(2026, 11, 24, 12, 0), NEW_YORK)
