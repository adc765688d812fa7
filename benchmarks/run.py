"""`make bench`: the whole stack under load, against a plain Rasa 3.6 assistant on the same machine.

Starts both itself, on ports BENCH_PORT_BASE..+99 (default 20400), in a temporary folder:
  1. training time of this assistant (from scratch, empty cache) and of `rasa init --no-prompt`;
  2. per server: cold start (command to first reply), journeys at each concurrency, conversation
     growth (turn 200 against turn 10), a burst of 5 messages from one consumer, peak RSS per process;
  3. the in-process cost of one NLU parse and one policy prediction for each model.
Prints a table, each figure also as a ratio to the plain-Rasa floor, and writes benchmarks/results.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from benchmarks import load
from bot.training import TRAIN_COMMAND, ensure_model

ROOT = Path(__file__).resolve().parents[1]
RASA = [sys.executable, "-m", "rasa"]
QUIET = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")


@dataclass
class Server:
    """A running server under test: how to reach it, its processes, and what a journey there is."""
    name: str
    url: str
    process: subprocess.Popen
    journey: Callable[[Optional[load.Consumer]], List[load.Step]]
    repeated_message: str
    no_action_message: str  # answered by a rule or a response alone: no custom action runs
    results: dict = field(default_factory=dict)


def process_tree(root_pid: int) -> Iterator[Tuple[int, str]]:
    """A process and all its descendants: each pid, with a short name."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            yield pid, short_name(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
        except OSError:
            continue


def peak_rss_mb(root_pid: int) -> Dict[str, float]:
    """Peak resident memory (VmHWM) of a process and all its descendants, by a short name."""
    return {f"{name} ({pid})": round(_proc_kb(f"/proc/{pid}/status", "VmHWM") / 1024, 1)
            for pid, name in process_tree(root_pid)}


def stack_pss_mb(root_pid: int) -> float:
    """Resident memory of a process and its descendants now, each shared page counted once (the sum of PSS).

    Rasa's Sanic workers are forked from a server that has imported TensorFlow (550 MB resident on its
    own here), and share those pages: summing each process's RSS counts them once per process.
    """
    return round(sum(_proc_kb(f"/proc/{pid}/smaps_rollup", "Pss") for pid, _ in process_tree(root_pid)) / 1024, 1)


def _proc_kb(path: str, field: str) -> int:
    """A kB field of a /proc file (`status`, `smaps_rollup`); 0 if the process is gone."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(f"{field}:")), 0)


def short_name(command: List[bytes]) -> str:
    words = [w.decode() for w in command if w]
    for marker, name in (("rasa_sdk", "actions"), ("backend", "backend"), ("up", "supervisor"), ("run", "rasa")):
        if marker in words:
            return name
    return Path(words[0]).name if words else "?"


def timed(command: List[str], cwd: Path, env: dict) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return time.monotonic() - started


def train_assistant(work: Path) -> float:
    """This assistant trained from scratch: a fresh output folder and an empty training cache."""
    return timed(TRAIN_COMMAND + ["--out", str(work / "models")], ROOT,
                 dict(QUIET, RASA_CACHE_DIRECTORY=str(work / "cache")))


def init_floor(folder: Path) -> float:
    """`rasa init --no-prompt` creates the example assistant and trains it: the time is its training."""
    folder.mkdir(parents=True)
    return timed(RASA + ["init", "--no-prompt", "--init-dir", str(folder)], folder.parent,
                 dict(QUIET, RASA_CACHE_DIRECTORY=str(folder.parent / "floor-cache")))


def start(command: List[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_floor(folder: Path, port: int) -> Server:
    process = start(RASA + ["run", "--enable-api", "--port", str(port), "--interface", "127.0.0.1"], folder,
                    QUIET, folder / "rasa.log")
    return Server("plain Rasa", f"http://127.0.0.1:{port}", process, load.floor_journey, "hello",
                  "hello there")


def scaled_to_cores(redis_url: str) -> Dict[str, str]:
    """One Sanic worker per core, sharing conversations through Redis (docs/scaling.md), when Redis answers."""
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return {}
    return {"LOCK_STORE_URL": redis_url, "SANIC_WORKERS": str(os.cpu_count() or 1)}


def start_assistant(work: Path, port_base: int, people: List[load.Consumer], scaling: Dict[str, str]) -> Server:
    """`python -m bot up` on a temporary SQLite ledger: the demo placements plus generated consumers."""
    env = dict(QUIET, DATABASE_URL=f"sqlite:///{work / 'ledger.db'}", TRACKER_STORE_URL=f"sqlite:///{work / 'tracker.db'}",
               SECRET_KEY="benchmark-secret-key", RASA_PORT=str(port_base + 20), ACTIONS_PORT=str(port_base + 25),
               BACKEND_PORT=str(port_base + 30), PAYMENTS_SCHEDULER_SECONDS="0", **scaling)
    for placements in (ROOT / "demo" / "placements.csv", load.write_placements(work / "generated.csv", people)):
        subprocess.run([sys.executable, "-m", "bot", "import-placements", str(placements), "--creditors",
                        str(ROOT / "demo" / "creditors.yml")], cwd=ROOT, env=env, check=True, capture_output=True)
    process = start([sys.executable, "-m", "bot", "up"], ROOT, env, work / "stack.log")
    return Server("this assistant", f"http://127.0.0.1:{port_base + 20}", process, load.assistant_journey,
                  "how much do i owe", "thank you")


async def drive(server: Server, people: List[load.Consumer], levels: List[int], journeys_per_level: Callable[[int], int],
                turns: int, started: float) -> None:
    """Everything measured over HTTP against one running server; people are used up one per journey."""
    pool = iter(people)
    server.results["cold_start_s"] = round(await load.first_reply(server.url, "bench-cold-start", "hi", 600) - started, 1)
    server.results["levels"] = []
    for concurrency in levels:
        journeys = [(person.phone, server.journey(person))
                    for person in (next(pool) for _ in range(journeys_per_level(concurrency)))]
        level = await load.run_level(server.url, journeys, concurrency)
        server.results["levels"].append(level.summary())
        _note_memory(server)
        server.results.setdefault("failures", []).extend(level.failed[:3])
        print(f"  {server.name}: {level.summary()}", *level.failed[:1], flush=True)
    if turns:
        person = next(pool)
        server.results["growth"] = await load.conversation_growth(
            server.url, person.phone, server.journey(person)[:4], server.repeated_message, turns)
        print(f"  {server.name}: growth {server.results['growth']}", flush=True)
    server.results["no_action"] = await load.no_action_message(server.url, "bench-no-action", server.no_action_message)
    print(f"  {server.name}: no custom action {server.results['no_action']}", flush=True)
    person = next(pool)
    server.results["burst"] = await load.burst(server.url, person.phone, server.journey(person)[:4],
                                               server.repeated_message)
    _note_memory(server)
    server.results["peak_rss_mb"] = peak_rss_mb(server.process.pid)


def _note_memory(server: Server) -> None:
    """The stack's memory after each part of the run: the largest is its peak (the kernel keeps no peak of PSS)."""
    server.results["peak_pss_mb"] = max(server.results.get("peak_pss_mb", 0.0), stack_pss_mb(server.process.pid))


def measure(server: Server, people, levels, journeys_per_level, turns, started) -> dict:
    try:
        asyncio.run(drive(server, people, levels, journeys_per_level, turns, started))
    finally:
        stop(server.process)
    return server.results


def inprocess(model: Path, text: str, with_fixes: bool = False) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.inprocess", str(model), text,
                           *(["--with-fixes"] if with_fixes else [])],
                          cwd=ROOT, env=QUIET, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def scaling_description(scaling: Dict[str, str]) -> str:
    if not scaling:
        return "one Rasa process (Redis unreachable, so no shared lock store for more)"
    return (f"{scaling['SANIC_WORKERS']} Sanic workers in one Rasa server, sharing conversations through Redis "
            f"(`SANIC_WORKERS`, `LOCK_STORE_URL`)")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    import rasa
    return (f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Rasa {rasa.__version__}; load average at start "
            f"{os.getloadavg()[0]:.1f}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels (default 1,8,32)")
    parser.add_argument("--journeys", type=int, default=2,
                        help="journeys per simulated consumer at each level (default 2; at least 3 in all)")
    parser.add_argument("--turns", type=int, default=200, help="conversation length for the growth test (0: skip)")
    parser.add_argument("--no-training", action="store_true", help="skip timing this assistant's training")
    parser.add_argument("--floor", metavar="DIR", help="reuse a trained `rasa init` folder (its training is not timed)")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_PORT_BASE", "20400")))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
                        help="Redis for the Sanic workers' shared lock store (unreachable: one worker)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.levels.split(",")]
    per_level = lambda c: max(3, args.journeys * c)  # noqa: E731
    people = load.consumers(sum(per_level(c) for c in levels) + 2)
    model = ensure_model(ROOT)
    results: dict = {"command": "make bench  # python -m benchmarks.run " + " ".join(argv or sys.argv[1:]),
                     "machine": machine(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     "load_average": os.getloadavg()[0], "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        floor_dir, floor_train = (Path(args.floor), None) if args.floor else (work / "floor", None)
        if not args.floor:
            print("Training the plain Rasa assistant (rasa init)…", flush=True)
            floor_train = init_floor(floor_dir)
        bot_train = None
        if not args.no_training:
            print("Training this assistant from scratch…", flush=True)
            bot_train = train_assistant(work)
        print("Measuring the plain Rasa assistant…", flush=True)
        started = time.monotonic()
        floor = measure(start_floor(floor_dir, args.port_base + 40), people, levels, per_level, args.turns, started)
        floor["training_s"] = round(floor_train, 1) if floor_train else None
        floor["inprocess"] = inprocess(next((floor_dir / "models").glob("*.tar.gz")), "hello there")
        print("Measuring this assistant…", flush=True)
        started = time.monotonic()
        scaling = scaled_to_cores(args.redis)
        ours = measure(start_assistant(work, args.port_base, people, scaling), people, levels, per_level, args.turns,
                       started)
        ours["configuration"] = scaling_description(scaling)
        ours["training_s"] = round(bot_train, 1) if bot_train else None
        ours["inprocess"] = inprocess(model, "how much do i owe", with_fixes=True)
    results.update(floor=floor, assistant=ours)
    from benchmarks.report import render

    text = render(results)
    print(text)
    Path(args.out).write_text(text)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "bench.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
