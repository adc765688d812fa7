"""Commands for conversation designers: `lint-conversations` and `designer` (docs/designers.md)."""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import List

from bot.cli import Command, register

STORY_RESULTS = Path("var/results/stories")


def _lint_conversations(args: argparse.Namespace) -> int:
    from bot import bootstrap
    from bot.conversation_lint import main

    return main(bootstrap.settings().project_root)


def failed_stories(project_root: Path) -> List[str]:
    """Names of the conversation tests Rasa's last run got wrong (its failed_test_stories.yml)."""
    path = project_root / STORY_RESULTS / "failed_test_stories.yml"
    if not path.is_file():
        return []
    return re.findall(r"^- story: (.+)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)


def _designer(args: argparse.Namespace) -> int:
    """Check, train only if the data changed, run the conversation tests, and say what to fix."""
    from bot import bootstrap
    from bot.evaluation import test_stories
    from bot.training import ensure_model, model_path

    root = bootstrap.settings().project_root
    report = ["", "Conversation design report"]
    if _lint_conversations(args) != 0:
        report.append("  checks      FAILED: fix the problems listed above, then run `make designer` again")
        print("\n".join(report))
        return 1
    report.append("  checks      OK (Rasa validation and the product's rules)")
    reused = model_path(root).exists()
    model = ensure_model(root)
    report.append(f"  model       {model.relative_to(root)} ({'unchanged data, reused' if reused else 'trained now'})")
    tests_failed = test_stories(root, model) != 0
    failed = failed_stories(root)
    if tests_failed:
        report.append(f"  stories     FAILED: {len(failed) or 'some'} conversation test(s) in tests/stories")
        report += [f"    - {name}" for name in failed]
        report.append(f"    what the bot did instead: {STORY_RESULTS / 'failed_test_stories.yml'} (# predicted: ...)")
    else:
        report.append("  stories     OK (every conversation test in tests/stories)")
    report.append("  next        talk to it: `make run` in one terminal, `make shell` in another")
    print("\n".join(report))
    return 1 if tests_failed else 0


register(Command("lint-conversations", "Rasa validation plus the product's conversation-design rules",
                 _lint_conversations))
register(Command("designer", "check, train if the data changed, run the conversation tests, report", _designer))
