"""Commands that run the assistant: up, backend, train, link, translations, evaluation."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli import Command, register


def _up(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.up import run

    return run(bootstrap.settings(), instances=args.instances)


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instances", type=int, default=1,
                        help="Rasa servers to start (default 1); more than one run behind a load balancer on "
                             "RASA_PORT and need LOCK_STORE_URL (docs/scaling.md)")


def _backend(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.web.server import serve

    serve(bootstrap.settings())
    return 0


def _train(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.training import ensure_model

    print(ensure_model(bootstrap.settings().project_root))
    return 0


def _link(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.domain.accounts import AccountNotFound

    try:
        statement = bootstrap.ledger().statement(args.ref)
    except AccountNotFound:
        print(f"unknown account reference: {args.ref}", file=sys.stderr)
        return 1
    token = bootstrap.link_signer().sign(statement.account_ref, ttl=args.days * 24 * 3600)
    language = statement.consumer.language
    print(f"{bootstrap.settings().public_backend_url}/chat?t={token}&lang={language}")
    return 0


def _translations(args: argparse.Namespace) -> int:
    from bot.translations_cli import main

    return main(args.steps)


def _nlu_report(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.evaluation import report
    from bot.training import ensure_model

    root = bootstrap.settings().project_root
    print(report(root, ensure_model(root), Path(args.out) if args.out else None))
    return 0


def _test_stories(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.evaluation import test_stories
    from bot.training import ensure_model

    root = bootstrap.settings().project_root
    return test_stories(root, ensure_model(root))


def _link_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="account reference, e.g. BW-10001")
    parser.add_argument("--days", type=int, default=7, help="days until the link expires (default 7)")


def _nlu_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", help="also write nlu-eval.txt and nlu-eval.json (every miss) there")


def _translations_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("steps", nargs="*", help="extract, update, compile (default: all three)")


register(Command("up", "start every service in the foreground (trains first if needed)", _up, _up_arguments))
register(Command("backend", "run the backend alone (web chat page, payment pages, webhooks, agent console)", _backend))
register(Command("train", "train the model unless one matches the training data", _train))
register(Command("link", "print a signed personal web chat link for an account", _link, _link_arguments))
register(Command("translations", "extract, update and compile the message catalogs", _translations,
                 _translations_arguments))
register(Command("nlu-report", "intent and entity scores per language on the held-out sets", _nlu_report,
                 _nlu_report_arguments))
register(Command("test-stories", "run the conversation tests in tests/stories", _test_stories))


def _validate(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.design_check import main

    return main(bootstrap.settings().project_root)


register(Command("validate", "strict check of the training data, rules and domain", _validate))
