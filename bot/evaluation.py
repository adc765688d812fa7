"""Held-out NLU accuracy per language and the conversation tests, as `make test` prints them."""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

# Intents whose misses break a rule, not just a conversation: their recall must stay at 100%.
CRITICAL_INTENTS = (
    "dispute_debt", "dispute_not_mine", "dispute_amount", "dispute_service", "claim_already_paid",
    "bankruptcy", "attorney_represented", "deceased", "cease_communication", "opt_out", "request_human",
)


def held_out_sets(project_root: Path) -> Dict[str, Path]:
    return {path.stem.rsplit("_", 1)[-1]: path for path in sorted((project_root / "tests" / "nlu").glob("heldout_*.yml"))}


def load_examples(path: Path) -> List[Tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(example.get("text"), example.get("intent")) for example in data.intent_examples]


async def predict(model: Path, texts: List[str]) -> List[str]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # one debug line per parsed message otherwise

    agent = Agent.load(str(model))
    return [(await agent.parse_message(text))["intent"]["name"] for text in texts]


def report(project_root: Path, model: Path) -> str:
    lines = ["NLU on held-out sets (never used in training)"]
    for language, path in held_out_sets(project_root).items():
        examples = load_examples(path)
        predicted = asyncio.run(predict(model, [text for text, _ in examples]))
        lines += language_report(language, examples, predicted)
    return "\n".join(lines)


def language_report(language: str, examples, predicted) -> List[str]:
    truth = [intent for _, intent in examples]
    correct = sum(t == p for t, p in zip(truth, predicted))
    recall: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for t, p in zip(truth, predicted):
        recall[t][1] += 1
        recall[t][0] += t == p
    confusions = Counter((t, p) for t, p in zip(truth, predicted) if t != p)
    lines = [f"  {language}: intent accuracy {correct / len(truth):.1%} ({correct}/{len(truth)})"]
    critical = [f"{i} {recall[i][0]}/{recall[i][1]}" for i in CRITICAL_INTENTS if recall[i][1]]
    lines.append(f"  {language}: critical-intent recall: " + ", ".join(critical))
    for (t, p), count in confusions.most_common(8):
        lines.append(f"  {language}: confused {t} -> {p} x{count}")
    return lines


def test_stories(project_root: Path, model: Path) -> int:
    """Rasa's conversation tests: every story in tests/stories must be predicted exactly."""
    return subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(model), "--stories", "tests/stories",
         "--out", "var/results/stories", "--fail-on-prediction-errors"],
        cwd=project_root,
    ).returncode
