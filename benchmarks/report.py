"""benchmarks/results.md from one run's figures: every figure beside the plain-Rasa floor and their ratio."""
from __future__ import annotations

from typing import List, Optional

NOTE = ("Ratios are this assistant divided by plain Rasa: above 1 is more for throughput, "
        "slower or bigger for times and memory. A journey here is 10 messages (verify, balance, line "
        "items, creditor, a payment link, a dispute) through the action server, the ledger and the response catalogs; "
        "plain Rasa's is 10 messages of the `rasa init` example with its responses in the domain.")


def ratio(ours: Optional[float], floor: Optional[float]) -> str:
    if ours is None or floor is None or not floor:
        return "–"
    return f"{ours / floor:.2f}x"


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "not measured"
    return f"{value:,.1f}{unit}" if isinstance(value, float) else f"{value}{unit}"


def row(name: str, ours, floor, unit: str = "", target: str = "") -> str:
    return f"| {name} | {fmt(ours, unit)} | {fmt(floor, unit)} | {ratio(ours, floor)} | {target} |"


def render(results: dict) -> str:
    ours, floor = results["assistant"], results["floor"]
    lines = ["# Benchmark results", "", f"Run {results['date']} with `{results['command'].strip()}`.", "",
             f"Machine: {results['machine']}.", "", *_configuration(ours), NOTE, "", *_noise(results),
             "| Figure | This assistant | Plain Rasa 3.6 | Ratio | Target |", "|---|---|---|---|---|"]
    for mine, theirs in zip(ours["levels"], floor["levels"]):
        c = mine["concurrency"]
        lines.append(row(f"messages/s at concurrency {c}", mine["messages_per_second"], theirs["messages_per_second"],
                         target=">= 1.0x at 8" if c == 8 else ""))
        for p in (50, 95, 99):
            target = {(8, 99): "<= 1.0x", (32, 99): "< 1000 ms"}.get((c, p), "")
            lines.append(row(f"p{p} per message at concurrency {c}", mine[f"p{p}_ms"], theirs[f"p{p}_ms"], " ms", target))
        lines.append(f"| journeys completed at concurrency {c} | {mine['journeys']} of {mine['journeys'] + mine['failed']} "
                     f"| {theirs['journeys']} of {theirs['journeys'] + theirs['failed']} | | all |")
    parse, floor_parse = ours["inprocess"], floor["inprocess"]
    lines += [
        row("in-process NLU parse", parse["parse_ms"], floor_parse["parse_ms"], " ms"),
        row("in-process policy prediction", parse["predict_ms"], floor_parse["predict_ms"], " ms"),
        row("p50 at concurrency 1 / in-process parse + predict", _over(ours["levels"][0]["p50_ms"], parse),
            _over(floor["levels"][0]["p50_ms"], floor_parse), "x", "<= 1.5x"),
    ]
    if "no_action" in ours and "no_action" in floor:
        quiet, floor_quiet = ours["no_action"]["p50_ms"], floor["no_action"]["p50_ms"]
        lines += [
            row("p50 of a message no custom action answers, at concurrency 1", quiet, floor_quiet, " ms"),
            row("that message / in-process parse + predict", _over(quiet, parse), _over(floor_quiet, floor_parse), "x"),
        ]
    if "growth" in ours and "growth" in floor:
        g, fg = ours["growth"], floor["growth"]
        turns = g["turns"]
        lines += [row("turn 10 of one conversation", g["turn_10_ms"], fg["turn_10_ms"], " ms"),
                  row(f"turn {turns} of one conversation", g[f"turn_{turns}_ms"], fg[f"turn_{turns}_ms"], " ms"),
                  row(f"turn {turns} / turn 10", g["growth"], fg["growth"], "x", "<= 1.5x")]
    lines += [
        row("burst of 5 messages from one consumer", ours["burst"]["seconds"], floor["burst"]["seconds"], " s", "<= 1 s"),
        row("cold start (command to first reply)", ours["cold_start_s"], floor["cold_start_s"], " s", "< 60 s"),
        row("training from scratch", ours["training_s"], floor["training_s"], " s", "< 180 s"),
        row("peak memory, all processes (PSS: a shared page counted once)", ours.get("peak_pss_mb"),
            floor.get("peak_pss_mb"), " MB", "< 2048 MB"),
        row("peak RSS, all processes (summed: a shared page counted in each)", _total(ours["peak_rss_mb"]),
            _total(floor["peak_rss_mb"]), " MB"),
        "", "Peak resident memory per process (VmHWM):", "",
    ]
    lines += [f"- this assistant: {_processes(ours['peak_rss_mb'])}", f"- plain Rasa: {_processes(floor['peak_rss_mb'])}"]
    failures: List[str] = ours.get("failures", []) + floor.get("failures", [])
    if failures:
        lines += ["", "First failed journeys:", ""] + [f"- `{f[:300]}`" for f in failures]
    return "\n".join(lines) + "\n"


def _noise(results: dict) -> List[str]:
    """A load average above the core count means other work shared the machine during the run."""
    load, cores = results.get("load_average"), results.get("cores")
    if load is None or not cores or load <= cores:
        return []
    return [f"**Noisy run:** the load average was {load:.1f} on {cores} cores when it started, so other work "
            "competed for the CPU; compare ratios measured in the same run rather than absolute times.", ""]


def _over(p50_ms: float, inprocess: dict) -> float:
    return round(p50_ms / inprocess["parse_and_predict_ms"], 2)


def _total(peaks: dict) -> float:
    return round(sum(peaks.values()), 1)


def _processes(peaks: dict) -> str:
    return ", ".join(f"{name} {mb:,.0f} MB" for name, mb in peaks.items())


def _configuration(ours: dict) -> List[str]:
    if not ours.get("configuration"):
        return []
    return [f"This assistant ran as {ours['configuration']}; plain Rasa as `rasa run` with its defaults.", ""]
