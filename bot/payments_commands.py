"""Payments commands: `python -m bot run-due` (cron's way to run the payments scheduler, and to send the
reminders quiet hours or the weekly cap delayed)."""
from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import datetime, timezone

from bot.cli import Command, register


def _parse_moment(text: str) -> datetime:
    """An ISO-8601 moment; one without a zone is read as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _run_due(args: argparse.Namespace) -> int:
    from bot import bootstrap

    try:
        at = _parse_moment(args.at) if args.at else None
    except ValueError:
        print(f"--at must be an ISO-8601 moment such as 2026-12-01T09:00:00Z, got {args.at!r}", file=sys.stderr)
        return 2
    summary = bootstrap.payments().run_due(at)
    print(summary)
    delayed = asyncio.run(bootstrap.outbound().send_delayed(at))
    if delayed:
        counts = Counter(decision.status for decision in delayed)
        print("delayed reminders: " + ", ".join(f"{status}={n}" for status, n in sorted(counts.items())))
    return 1 if summary.errors else 0


def _run_due_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", metavar="MOMENT",
                        help="run as of this ISO-8601 moment instead of now (tests, catching up after downtime)")


register(Command("run-due", "charge due installments, retry failed ones, resolve promises, send notifications "
                 "and delayed reminders", _run_due, _run_due_arguments))
