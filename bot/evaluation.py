"""Held-out NLU evaluation per language (intents and entities) and the conversation tests."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import unicodedata
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Set, Tuple

# Intents whose misses break a rule, not just a conversation: their recall must stay at 100%.
CRITICAL_INTENTS = (
    "dispute_debt", "dispute_not_mine", "dispute_amount", "dispute_service", "claim_already_paid",
    "bankruptcy", "attorney_represented", "deceased", "cease_communication", "opt_out", "request_human",
)
Entity = Tuple[str, int, int]  # entity type, start, end of its span in the text


@dataclass
class Example:
    text: str
    intent: str
    entities: Set[Entity] = field(default_factory=set)


@dataclass
class Scores:
    precision: float
    recall: float
    f1: float
    support: int


def held_out_sets(project_root: Path) -> Dict[str, Path]:
    return {path.stem.rsplit("_", 1)[-1]: path for path in sorted((project_root / "tests" / "nlu").glob("heldout_*.yml"))}


def load_examples(path: Path) -> List[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [Example(m.get("text"), m.get("intent"), {(e["entity"], e["start"], e["end"]) for e in m.get("entities") or []})
            for m in load_data(str(path)).intent_examples]


def normalized(text: str) -> str:
    """Case, accents, punctuation and spacing aside: "Ya la saldé!" and "ya la salde" are one text."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s$]", " ", plain).split())


def training_texts(project_root: Path) -> Set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    texts = set()
    for path in sorted((project_root / "data" / "nlu").rglob("*.yml")):
        texts |= {normalized(m.get("text")) for m in load_data(str(path)).intent_examples}
    return texts


def leaked_examples(project_root: Path) -> List[str]:
    """Held-out texts that also appear in the training data: they would flatter the accuracy."""
    train = training_texts(project_root)
    return [f"{language}: {e.text}" for language, path in held_out_sets(project_root).items()
            for e in load_examples(path) if normalized(e.text) in train]


async def parse_all(model: Path, texts: List[str]) -> List[dict]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    from bot import rasa_server

    configure_structlog(logging.WARNING)  # one debug line per parsed message otherwise
    rasa_server.install()
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def scores(pairs: List[Tuple[str, str]], label: str) -> Scores:
    """Precision, recall and F1 of one label over (truth, predicted) pairs."""
    true_positive = sum(t == p == label for t, p in pairs)
    predicted = sum(p == label for _, p in pairs)
    support = sum(t == label for t, _ in pairs)
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, support)


def entity_scores(truth: List[Set[Entity]], predicted: List[Set[Entity]]) -> Dict[str, Scores]:
    """Per entity type, exact-span matches: the right type over the right characters."""
    counts: Dict[str, List[int]] = defaultdict(lambda: [0, 0, 0])  # matched, predicted, expected
    for expected, found in zip(truth, predicted):
        for name, *_ in found:
            counts[name][1] += 1
        for name, *_ in expected:
            counts[name][2] += 1
        for name, *_ in expected & found:
            counts[name][0] += 1
    result = {}
    for name, (matched, found, expected) in sorted(counts.items()):
        precision = matched / found if found else 0.0
        recall = matched / expected if expected else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[name] = Scores(precision, recall, f1, expected)
    return result


FALLBACK_THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def fallback_setting(project_root: Path) -> Tuple[float, float]:
    """The FallbackClassifier's threshold and ambiguity threshold in config.yml."""
    import yaml

    pipeline = yaml.safe_load((project_root / "config.yml").read_text())["pipeline"]
    step = next((c for c in pipeline if c["name"] == "FallbackClassifier"), {})
    return step.get("threshold", 0.3), step.get("ambiguity_threshold", 0.1)


def with_fallback(parse: dict, threshold: float, ambiguity: float) -> str:
    """The intent the FallbackClassifier would give at `threshold`: it only post-processes the ranking."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    if not ranking:
        return parse["intent"]["name"]
    top, second = ranking[0]["confidence"], ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    return "nlu_fallback" if top < threshold or top - second < ambiguity else ranking[0]["name"]


def fallback_sweep(examples: List[Example], parses: List[dict], ambiguity: float) -> Dict[str, float]:
    """Accuracy at other fallback thresholds, measured from the same parses (no retraining needed)."""
    return {f"{t:.2f}": sum(e.intent == with_fallback(p, t, ambiguity) for e, p in zip(examples, parses)) / len(examples)
            for t in FALLBACK_THRESHOLDS}


def evaluate_language(examples: List[Example], parses: List[dict]) -> dict:
    pairs = [(e.intent, p["intent"]["name"]) for e, p in zip(examples, parses)]
    correct = sum(t == p for t, p in pairs)
    found = [{(x["entity"], x["start"], x["end"]) for x in p.get("entities", [])} for p in parses]
    misses = [{"text": e.text, "intent": e.intent, "predicted": p["intent"]["name"],
               "confidence": round(p["intent"]["confidence"], 3)}
              for e, p in zip(examples, parses) if e.intent != p["intent"]["name"]]
    return {
        "examples": len(pairs),
        "accuracy": correct / len(pairs),
        "intents": {label: vars(scores(pairs, label)) for label in sorted({t for t, _ in pairs})},
        "critical_recall": {label: vars(scores(pairs, label)) for label in CRITICAL_INTENTS
                            if any(t == label for t, _ in pairs)},
        "confusions": [[t, p, n] for (t, p), n in Counter((t, p) for t, p in pairs if t != p).most_common(10)],
        "entities": {name: vars(s) for name, s in entity_scores([e.entities for e in examples], found).items()},
        "misses": misses,
    }


def evaluate(project_root: Path, model: Path) -> Dict[str, dict]:
    results, (_, ambiguity) = {}, fallback_setting(project_root)
    for language, path in held_out_sets(project_root).items():
        examples = load_examples(path)
        parses = asyncio.run(parse_all(model, [e.text for e in examples]))
        results[language] = dict(evaluate_language(examples, parses),
                                 fallback_sweep=fallback_sweep(examples, parses, ambiguity))
    return results


def render(results: Dict[str, dict], leaks: List[str]) -> str:
    lines = ["NLU on held-out sets (never used in training)"]
    if leaks:
        lines.append(f"WARNING: {len(leaks)} held-out examples are also training data: " + "; ".join(leaks[:5]))
    for language, result in results.items():
        lines += render_language(language, result)
    return "\n".join(lines)


def render_language(language: str, result: dict) -> List[str]:
    n, accuracy = result["examples"], result["accuracy"]
    lines = ["", f"[{language}] intent accuracy {accuracy:.1%} ({round(accuracy * n)}/{n})",
             f"  {'intent':<24}{'prec':>7}{'recall':>8}{'f1':>7}{'n':>5}"]
    for label, s in result["intents"].items():
        flag = " *" if label in CRITICAL_INTENTS else ""
        lines.append(f"  {label:<24}{s['precision']:>7.2f}{s['recall']:>8.2f}{s['f1']:>7.2f}{s['support']:>5}{flag}")
    critical = result["critical_recall"]
    short = [label for label, s in critical.items() if s["recall"] < 1]
    lines.append(f"  critical-intent recall (*): {sum(s['recall'] == 1 for s in critical.values())}/{len(critical)} "
                 f"intents at 100%" + (f"; below: {', '.join(short)}" if short else ""))
    for label in short:
        s = critical[label]
        lines.append(f"    {label} {round(s['recall'] * s['support'])}/{s['support']}")
    lines.append("  top confusions (truth -> predicted):")
    lines += [f"    {t} -> {p} x{count}" for t, p, count in result["confusions"]] or ["    none"]
    lines.append(f"  {'entity':<24}{'prec':>7}{'recall':>8}{'f1':>7}{'n':>5}")
    for name, s in result["entities"].items():
        lines.append(f"  {name:<24}{s['precision']:>7.2f}{s['recall']:>8.2f}{s['f1']:>7.2f}{s['support']:>5}")
    if "fallback_sweep" in result:
        lines.append("  accuracy by fallback threshold: " +
                     "  ".join(f"{t} {a:.1%}" for t, a in result["fallback_sweep"].items()))
    return lines


def report(project_root: Path, model: Path, out: Path | None = None) -> str:
    """The readable report; with `out`, also nlu-eval.txt and nlu-eval.json (incl. every miss) there."""
    results, leaks = evaluate(project_root, model), leaked_examples(project_root)
    text = render(results, leaks)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "nlu-eval.txt").write_text(text + "\n")
        (out / "nlu-eval.json").write_text(json.dumps({"model": model.name, "leaks": leaks, "languages": results},
                                                      indent=2, ensure_ascii=False))
    return text


def test_stories(project_root: Path, model: Path) -> int:
    """Rasa's conversation tests: every story in tests/stories must be predicted exactly."""
    return subprocess.run(
        [sys.executable, "-m", "bot.rasa_server", "test", "core", "--model", str(model), "--stories", "tests/stories",
         "--out", "var/results/stories", "--fail-on-prediction-errors"],
        cwd=project_root,
    ).returncode
