"""The cost no server can avoid: one NLU parse and one policy prediction, in process, with Rasa's Agent.

Run as `python -m benchmarks.inprocess MODEL TEXT [--with-fixes]`; prints one JSON line (medians in
milliseconds). `--with-fixes` installs what this assistant's Rasa server runs with (bot/rasa_server.py),
so its figure is the cost that server pays; plain Rasa is measured as it ships.
"""
from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time


async def measure(model: str, text: str, with_fixes: bool = False, repeats: int = 50) -> dict:
    from rasa.core.agent import Agent
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    if with_fixes:
        from bot import rasa_server

        rasa_server.install()
    agent = Agent.load(model)
    processor = agent.processor
    parse = await agent.parse_message(text)
    tracker = DialogueStateTracker.from_events(
        "bench", [ActionExecuted("action_listen"), UserUttered(text, parse["intent"], parse["entities"], parse)],
        slots=agent.domain.slots)
    parse_times, predict_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        await agent.parse_message(text)
        parse_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        processor._predict_next_with_tracker(tracker)
        predict_times.append(time.perf_counter() - started)
    parse_ms, predict_ms = (statistics.median(t) * 1000 for t in (parse_times, predict_times))
    return {"parse_ms": round(parse_ms, 2), "predict_ms": round(predict_ms, 2),
            "parse_and_predict_ms": round(parse_ms + predict_ms, 2)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(sys.argv[1], sys.argv[2], with_fixes="--with-fixes" in sys.argv[3:]))))
