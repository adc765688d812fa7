"""One NLU model for both languages, or one model per language? Measured on the held-out sets.

    .venv/bin/python benchmarks/nlu_languages.py            # about 10 minutes on 2 cores

Trains three NLU-only models into a temporary directory with the project's config.yml (same
pipeline, same seeds): both languages together (what the product ships), English only and
Spanish only. Each training runs in its own process with an empty Rasa cache, so its wall time
and peak memory (max RSS) are its own. Then it parses tests/nlu/heldout_{en,es}.yml:

* one model: the combined model on both sets;
* per language, routed by the truth: each set through its own model (the best case);
* per language, routed by bot.domain.language.detect_language (what a product would have to do:
  a message the detector cannot place goes to the conversation's language, English here).

Serving memory is the peak RSS of a process that loads the model(s) and parses both sets.
Nothing under data/ or models/ is written. Results are printed as a Markdown table.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETUPS = {"both": ("en", "es"), "en": ("en",), "es": ("es",)}


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: list, workdir: Path) -> dict:
    env = dict(os.environ, RASA_CACHE_DIRECTORY=str(workdir / f"cache-{args[0]}-{args[1]}"),
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} {args[1]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def train(setup: str, workdir: Path) -> dict:
    """In a child process: an NLU model from data/nlu/<lang>/ (+ regex.yml) for the setup."""
    from rasa.model_training import train_nlu
    import yaml

    data = workdir / f"data-{setup}"
    for language in SETUPS[setup]:
        shutil.copytree(ROOT / "data" / "nlu" / language, data / language)
    shutil.copy(ROOT / "data" / "nlu" / "regex.yml", data / "regex.yml")
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    config["language"] = SETUPS[setup][0] if len(SETUPS[setup]) == 1 else config.get("language", "en")
    config_path = workdir / f"config-{setup}.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    started = time.perf_counter()
    model = train_nlu(str(config_path), str(data), str(workdir / "models"), fixed_model_name=f"nlu-{setup}")
    return {"model": model, "seconds": time.perf_counter() - started, "max_rss_mb": _max_rss_mb()}


def evaluate(models: dict) -> dict:
    """In a child process: predictions of each held-out set under each routing."""
    import asyncio

    from rasa.core.agent import Agent

    from bot.domain.language import detect_language
    from bot.evaluation import held_out_sets, load_examples

    agents = {name: Agent.load(path) for name, path in models.items()}

    async def parse(agent, text):
        return (await agent.parse_message(text))["intent"]["name"]

    async def run() -> dict:
        results = {}
        for language, path in held_out_sets(ROOT).items():
            examples = load_examples(path)
            for route in ("truth", "detected") if "both" not in agents else ("single",):
                correct = 0
                for text, intent in examples:
                    if route == "single":
                        agent = agents["both"]
                    elif route == "truth":
                        agent = agents[language]
                    else:
                        agent = agents[detect_language(text) or "en"]
                    correct += (await parse(agent, text)) == intent
                results[f"{language}/{route}"] = [correct, len(examples)]
        return results

    return {"accuracy": asyncio.run(run()), "max_rss_mb": _max_rss_mb()}


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="nlu-languages-"))
    try:
        trained = {setup: _child(["train", setup, str(workdir)], workdir) for setup in SETUPS}
        single = _child(["evaluate", json.dumps({"both": trained["both"]["model"]}), str(workdir)], workdir)
        split = _child(["evaluate", json.dumps({"en": trained["en"]["model"], "es": trained["es"]["model"]}),
                        str(workdir)], workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def pct(result, key):
        correct, total = result["accuracy"][key]
        return f"{correct / total:.1%} ({correct}/{total})"

    print("| Setup | en held-out | es held-out | Training time | Training peak RSS | Serving peak RSS |")
    print("|---|---|---|---|---|---|")
    print(f"| One model, both languages | {pct(single, 'en/single')} | {pct(single, 'es/single')} | "
          f"{trained['both']['seconds']:.0f} s | {trained['both']['max_rss_mb']:.0f} MB | "
          f"{single['max_rss_mb']:.0f} MB |")
    seconds = trained["en"]["seconds"] + trained["es"]["seconds"]
    rss = max(trained["en"]["max_rss_mb"], trained["es"]["max_rss_mb"])
    print(f"| One model per language, routed by the true language | {pct(split, 'en/truth')} | "
          f"{pct(split, 'es/truth')} | {seconds:.0f} s ({trained['en']['seconds']:.0f} + "
          f"{trained['es']['seconds']:.0f}) | {rss:.0f} MB | {split['max_rss_mb']:.0f} MB (both loaded) |")
    print(f"| One model per language, routed by detect_language | {pct(split, 'en/detected')} | "
          f"{pct(split, 'es/detected')} | same | same | same |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "train":
        print(json.dumps(train(sys.argv[2], Path(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "evaluate":
        print(json.dumps(evaluate(json.loads(sys.argv[2]))))
    else:
        main()
