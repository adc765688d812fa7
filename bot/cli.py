"""`python -m bot COMMAND`: the operator's commands, built from a small registry.

To add a command (`up`, `link`, `train`, ...), write `def _name(args) -> int` and register a
`Command` in COMMANDS below; import heavy modules inside the function so `--help` stays fast.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Optional[Arguments] = None


COMMANDS: Dict[str, Command] = {}


def register(command: Command) -> Command:
    """Add a subcommand; a later registration under the same name replaces the earlier one."""
    COMMANDS[command.name] = command
    return command


def _import_placements(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.ledger.importer import PlacementError, import_placements
    from bot.ledger.migrations import upgrade

    upgrade(bootstrap.engine())
    try:
        summary = import_placements(bootstrap.engine(), args.file, args.creditors)
    except PlacementError as exc:
        print(f"{args.file}: nothing imported; fix these and run again:", file=sys.stderr)
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def _account(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.domain.accounts import AccountNotFound

    try:
        view = bootstrap.ledger().account_json(args.ref)
    except AccountNotFound:
        print(f"unknown account reference: {args.ref}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        print(_account_text(bootstrap.ledger().statement(args.ref)))
    return 0


def _account_text(statement) -> str:
    """A plain operator view; consumers only ever see Babel-formatted amounts."""
    lines = [
        f"{statement.account_ref}  {statement.creditor.name}  {statement.status}",
        f"consumer: {statement.consumer.full_name} ({statement.consumer.language}, {statement.consumer.timezone})",
        f"balance: {statement.balance}",
    ]
    lines += [f"  {i.date}  {i.reference}  {i.description}  {i.amount}" for i in statement.line_items]
    lines += [f"  {e.posted_at:%Y-%m-%d}  {e.kind}  {e.amount}" for e in statement.payments_and_credits]
    lines += [f"  hold: {h.amount}  {h.reason}" for h in statement.holds]
    return "\n".join(lines)


def _migrate(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.ledger.migrations import upgrade

    revision = upgrade(bootstrap.engine())
    print(f"ledger database at revision {revision}")
    return 0


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.csv", help="placement file, one row per line item")
    parser.add_argument("--creditors", required=True, metavar="FILE.yml", help="creditors and their policies")


def _account_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="account reference, e.g. BW-10001")
    parser.add_argument("--json", action="store_true", help="print the contract's JSON view")


register(Command("import-placements", "import a placement file (idempotent)", _import_placements, _import_arguments))
register(Command("account", "show one account", _account, _account_arguments))
register(Command("migrate", "migrate the ledger database to the newest schema", _migrate))


def build_parser() -> argparse.ArgumentParser:
    import bot.service_commands  # noqa: F401  (registers up, train, link, ...)
    import bot.messaging_commands  # noqa: F401  (registers remind, outbound-log)
    import bot.payments_commands  # noqa: F401  (registers run-due)
    import bot.scaleout_commands  # noqa: F401  (registers lock-race, consume-events)
    import bot.designer_commands  # noqa: F401  (registers lint-conversations, designer)
    import bot.agent_commands  # noqa: F401  (registers agent-add)

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Debt-resolution assistant: ledger and service commands. "
        "DATABASE_URL selects the ledger (default: sqlite file var/ledger.db in the project).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS.values():
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.arguments:
            command.arguments(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from sqlalchemy.exc import OperationalError

    try:
        return args.run(args)
    except OperationalError as exc:
        print(f"cannot use the ledger database: {exc.orig}", file=sys.stderr)
        return 1
