"""Messaging commands: send a payment reminder through the outbound service, read the outbound record."""
from __future__ import annotations

import argparse
import json
import sys

from bot.cli import Command, register


def _remind(args: argparse.Namespace) -> int:
    import asyncio

    from bot import bootstrap
    from bot.domain.accounts import AccountNotFound

    try:
        decision = asyncio.run(bootstrap.outbound().remind(args.ref, channel=args.channel))
    except AccountNotFound:
        print(f"unknown account reference: {args.ref}", file=sys.stderr)
        return 1
    result = {
        "status": decision.status,
        "reason": decision.reason,
        "channel": decision.channel,
        "address": decision.address,
        "not_before": decision.not_before.isoformat() if decision.not_before else None,
        "provider_ids": list(decision.provider_ids),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        when = f" until {result['not_before']}" if result["not_before"] else ""
        print(f"{decision.status} ({decision.reason}{when}) on {decision.channel} to {decision.address}")
    return 0 if decision.status != "failed" else 1


def _outbound_log(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.ledger.messaging import record_as_json

    records = bootstrap.messaging().attempts(account_ref=args.ref, limit=args.limit)
    if args.json:
        print(json.dumps([record_as_json(r) for r in records], indent=2, ensure_ascii=False))
        return 0
    for r in records:
        when = f" until {r.not_before.isoformat()}" if r.not_before else ""
        print(f"{r.attempted_at.isoformat()}  {r.status:<10} {r.reason}{when}  {r.purpose}  {r.channel} "
              f"{r.address}  {r.account_ref or '-'}")
    return 0


def _remind_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="account reference, e.g. BW-10001")
    parser.add_argument("--channel", choices=("sms", "whatsapp"),
                        help="default: the phone channel the consumer last wrote on, else sms")
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")


def _log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", nargs="?", help="only this account")
    parser.add_argument("--limit", type=int, default=50, help="the most recent N attempts (default 50)")
    parser.add_argument("--json", action="store_true", help="print the attempts as JSON")


register(Command("remind", "send a payment reminder now, if the messaging rules allow it", _remind,
                 _remind_arguments))
register(Command("outbound-log", "proactive messages sent, delayed or suppressed, and why", _outbound_log,
                 _log_arguments))
