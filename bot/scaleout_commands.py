"""Commands of the scaled-out setup (docs/scaling.md): endpoints, balancer, consume-events, lock-race."""
from __future__ import annotations

import argparse
import sys

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


def _consume_events(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from bot import bootstrap
    from bot.events_consumer import consume
    from bot.records import ConversationRecorder

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s events %(message)s")
    url = bootstrap.settings().event_broker_url
    if not url:
        print("EVENT_BROKER_URL is not set", file=sys.stderr)
        return 2
    try:
        asyncio.run(consume(url, ConversationRecorder(bootstrap.ledger())))
    except KeyboardInterrupt:
        pass
    return 0


def _balancer(args: argparse.Namespace) -> int:
    from bot.web.balancer import serve

    serve(args.host, args.port, [u for u in args.upstreams.split(",") if u])
    return 0


def _balancer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstreams", required=True, help="comma-separated Rasa server URLs")


register(Command("consume-events", "write the communications record from RabbitMQ (EVENT_BROKER_URL)",
                 _consume_events))
register(Command("balancer", "a local load balancer in front of several Rasa servers", _balancer,
                 _balancer_arguments))


def _endpoints(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.up import write_runtime_endpoints

    print(write_runtime_endpoints(bootstrap.settings()))
    return 0


register(Command("endpoints", "write Rasa's endpoints.yml for this environment to var/runtime/ (containers)",
                 _endpoints))
