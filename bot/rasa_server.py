"""`python -m bot.rasa_server run|train|test|shell …`: Rasa's own command line, with fixes to Rasa 3.6.

The server, training, the conversation tests and the evaluation all go through it. The fixes, each
with what it fixes and what it measured:

- bot/rasa_fixes/action_calls.py: a failed or slow action server gets the consumer a kind "try
  again"; its replies are checked against the schema without rebuilding it; connections to it are
  kept alive between calls.
- bot/rasa_fixes/stored_events.py: a stored event's class is found once per type name.
- bot/rasa_fixes/policies.py: MemoizationPolicy with nothing memorised predicts at once; RulePolicy
  looks back only as far as its rules reach and remembers which match a latest state.
- bot/dialogue_states.py: the states the policies start from are made once per event.
- bot/graph_runner.py: the model's graph runs in an order worked out once, without dask.
- bot/rasa_fixes/tensorflow_models.py: DIET and TED load without tracing a training step, join
  sparse features in one pass and call their traced prediction graph directly.
- bot/rasa_fixes/sanic_workers.py: each Sanic worker listens on its own socket once its model is
  loaded, and its TensorFlow gets its share of the cores.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

import rasa.core.processor
from rasa.shared.core.domain import Domain

from bot import dialogue_states
from bot.graph_runner import SequentialGraphRunner
from bot.rasa_fixes import action_calls, policies, sanic_workers, stored_events, tensorflow_models


def install() -> None:
    for fixes in (action_calls, stored_events, policies, tensorflow_models, sanic_workers):
        fixes.install()
    Domain.states_for_tracker_history = dialogue_states.states_for_tracker_history
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner


def main(argv: Optional[List[str]] = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    if sys.argv[1:2] == ["run"]:
        sanic_workers.tensorflow_threads_per_worker(os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
