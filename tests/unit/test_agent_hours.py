"""AGENT_HOURS: when a person is at work on the queue, and when the next one will be."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.domain.agent_hours import AgentHours

WEEKDAYS = AgentHours.parse("mon-fri 09:00-17:00 America/New_York")


@pytest.mark.parametrize("utc, opening", [
    ("2026-11-23T15:00", None),  # Monday 10am in New York: open
    ("2026-11-23T22:00", "2026-11-24T09:00:00-05:00"),  # Monday 5pm: closed, Tuesday morning
    ("2026-11-21T15:00", "2026-11-23T09:00:00-05:00"),  # Saturday: Monday morning
    ("2026-11-23T13:59", "2026-11-23T09:00:00-05:00"),  # Monday 8:59am: later the same day
])
def test_next_opening(utc, opening):
    now = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)
    result = WEEKDAYS.next_opening(now)
    assert (result.isoformat() if result else None) == opening


@pytest.mark.parametrize("text", [None, "", "always", "ALWAYS"])
def test_unset_means_always_staffed(text):
    assert AgentHours.parse(text) is None


def test_days_wrap_around_the_week():
    assert AgentHours.parse("fri-mon 10:00-12:00 Europe/Madrid").days == {4, 5, 6, 0}


@pytest.mark.parametrize("text, problem", [
    ("weekdays", "must look like"),  # not the format at all
    ("mon-fri 9-5 America/New_York", "AGENT_HOURS"),  # unreadable times
    ("mon-fri 17:00-09:00 America/New_York", "before the closing"),  # backwards
    ("mon-fry 09:00-17:00 America/New_York", "unknown day"),  # typo in a day
    ("mon-fri 09:00-17:00 Mars/Olympus", "AGENT_HOURS"),  # unknown zone
])
def test_a_malformed_setting_says_what_is_wrong(text, problem):
    with pytest.raises(ValueError, match=problem):
        AgentHours.parse(text)
