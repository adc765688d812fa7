"""Commands of the scaled-out setup (docs/scaling.md): lock-race, consume-events."""
from __future__ import annotations

import argparse

from bot.cli import Command, register


def _lock_race(args: argparse.Namespace) -> int:
    from bot.lock_race import STORES, race

    for store in STORES:
        print(race(store, args.redis, bursts=args.bursts, burst_size=args.size), flush=True)
    return 0


def _lock_race_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="a Redis database to use (keys removed after)")
    parser.add_argument("--bursts", type=int, default=200, help="conversations, one burst each (default 200)")
    parser.add_argument("--size", type=int, default=5, help="simultaneous messages per burst (default 5)")


register(Command("lock-race", "messages lost to concurrent turns: Rasa's RedisLockStore against ours", _lock_race,
                 _lock_race_arguments))
