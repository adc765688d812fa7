"""The load benchmark still works: a tiny run of its load generator against the shared stack."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks import load, run
from benchmarks.report import render
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def import_generated(stack, tmp_path, people):
    placements = load.write_placements(tmp_path / "generated.csv", people)
    done = subprocess.run([sys.executable, "-m", "bot", "import-placements", str(placements), "--creditors",
                           "demo/creditors.yml"], cwd=ROOT, env=stack.env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_simulated_consumers_complete_whole_journeys_and_the_report_has_every_figure(stack, tmp_path):
    people = load.consumers(4, start=9000)
    import_generated(stack, tmp_path, people)
    journeys = [(person.phone, load.assistant_journey(person)) for person in people[:2]]

    level = asyncio.run(load.run_level(stack.rasa_url, journeys, concurrency=2))
    growth = asyncio.run(load.conversation_growth(stack.rasa_url, people[2].phone,
                                                  load.assistant_journey(people[2])[:4], "how much do i owe", turns=12))
    quiet = asyncio.run(load.no_action_message(stack.rasa_url, "test-no-action", "thank you", count=8))
    burst = asyncio.run(load.burst(stack.rasa_url, people[3].phone, load.assistant_journey(people[3])[:4],
                                   "how much do i owe"))

    assert level.failed == [] and level.completed == 2
    assert len(level.latencies) == 2 * len(journeys[0][1])
    assert burst["all_answered"]
    assert quiet["all_answered"]
    figures = {"levels": [level.summary()], "growth": growth, "no_action": quiet, "burst": burst, "cold_start_s": 1.0,
               "training_s": None,
               "peak_rss_mb": {"rasa (1)": 1.0}, "peak_pss_mb": 1.0, "inprocess": {"parse_ms": 1.0, "predict_ms": 1.0,
                                                              "parse_and_predict_ms": 2.0}}
    report = render({"assistant": figures, "floor": figures, "date": "today", "command": "make bench",
                     "machine": "this one"})
    for figure in ("messages/s at concurrency 2", "p99 per message at concurrency 2", "turn 12 / turn 10",
                   "burst of 5 messages", "cold start", "training from scratch", "peak RSS", "peak memory", "in-process NLU parse",
                   "p50 of a message no custom action answers"):
        assert figure in report


def test_the_stacks_memory_counts_each_shared_page_once():
    forked = subprocess.Popen([sys.executable, "-c", "import os, time; held = b'x' * (64 << 20); os.fork(); time.sleep(60)"],
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(run.peak_rss_mb(forked.pid)) < 2:  # once forked, both hold what the parent had before
            assert time.monotonic() < deadline, "the process did not fork"
            time.sleep(0.1)
        rss = sum(run.peak_rss_mb(forked.pid).values())
        pss = run.stack_pss_mb(forked.pid)
        assert pss > 64 and rss - pss > 50  # 64 MB held by both
    finally:
        os.killpg(forked.pid, signal.SIGKILL)
        forked.wait()
