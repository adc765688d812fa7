"""Agent accounts from the command line: `python -m bot agent-add USERNAME`."""
from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
from datetime import datetime, timezone
from typing import Optional

from bot.cli import Command, register

PASSWORD_ENV = "AGENT_PASSWORD"
MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
DEMO_AGENT = "demo"


def add_agent(username: str, password: str, display_name: Optional[str] = None) -> None:
    """Create an agent; raises ValueError for a bad name or password, AgentExists for a taken name."""
    from bot import bootstrap
    from bot.security import hash_password

    if not USERNAME.match(username):
        raise ValueError("a username is 2-64 lower-case letters, digits, dots, dashes or underscores")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    bootstrap.agents().add_agent(username, display_name or username, hash_password(password),
                                 datetime.now(timezone.utc))


def ensure_demo_agent() -> Optional[str]:
    """On a ledger without agents, create `demo` with a fresh random password and return it (shown once)."""
    from bot import bootstrap

    if bootstrap.agents().agent_count():
        return None
    password = secrets.token_urlsafe(12)
    add_agent(DEMO_AGENT, password, "Demo agent")
    return password


def _agent_add(args: argparse.Namespace) -> int:
    from bot.ledger.agents import AgentExists

    password = os.environ.get(PASSWORD_ENV) or _prompt_password()
    if password is None:
        return 1
    try:
        add_agent(args.username, password, args.name)
    except (ValueError, AgentExists) as exc:
        print(f"agent not added: {exc}", file=sys.stderr)
        return 1
    print(f"agent {args.username} added; sign in at /agent/login")
    return 0


def _prompt_password() -> Optional[str]:
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        print("the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def _agent_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", metavar="USERNAME", help="lower-case sign-in name, e.g. jlee")
    parser.add_argument("--name", help="the name the console shows (default: the username)")
    parser.epilog = f"The password is read from {PASSWORD_ENV} when set, else asked for twice."


register(Command("agent-add", "add an agent who can sign in to the agent console", _agent_add,
                 _agent_add_arguments))
