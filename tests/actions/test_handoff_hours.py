"""The handoff message tells the consumer when to expect a person (AGENT_HOURS)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionHandoff
from bot.domain.agent_hours import AgentHours
from tests.actions.conftest import make_tracker

HOURS = AgentHours.parse("mon-fri 09:00-17:00 America/New_York")


async def handoff_at(services, moment, language="en"):
    action = ActionHandoff(**dict(services, clock=lambda: moment), agent_hours=HOURS)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, make_tracker(text="a person please", intent="request_human",
                                              slots={"language": language}), {})
    return dispatcher.messages


@pytest.mark.parametrize("moment, language, reply_by", [
    # Sunday afternoon in New York: Monday's opening, in the team's zone
    (datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc), "en", "Nov 23, 2026, 9:00\u202fAM EST"),
    # Monday evening, in Spanish: Tuesday's opening, formatted for es_US
    (datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc), "es", "24 nov 2026, 9:00\u202fa.m. EST"),
])
async def test_outside_agent_hours_the_consumer_hears_when_to_expect_a_reply(services, moment, language, reply_by):
    [message] = await handoff_at(services, moment, language)
    assert message["response"] == "utter_handoff_after_hours"
    assert message["reply_by"].replace(" ", "\u202f") == reply_by.replace(" ", "\u202f")


async def test_during_agent_hours_the_usual_handoff_message(services, demo_ledger):
    [message] = await handoff_at(services, datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc))
    assert message["response"] == "utter_handoff"
    assert demo_ledger.handoffs()[0]["reason"] == "request_human"
