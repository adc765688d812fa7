"""`python -m bot translations`: extract the responses, update every catalog, compile them.

One command for the conversation designers (like microblog's ``flask translate``):

    python -m bot translations              extract -> update -> compile (the usual run)
    python -m bot translations --add fr     the same, creating locales/fr/LC_MESSAGES/messages.po
    python -m bot translations extract      only locales/messages.pot from domain.yml
    python -m bot translations update       only merge messages.pot into every messages.po
    python -m bot translations compile      only .po -> .mo (what install and startup run)

Extract and update run the real ``pybabel`` (the commands are printed, so they can be rerun by
hand); compile is :func:`bot.translations.compile_catalogs`, which also refuses a catalog whose
placeholders differ from the English. Reruns with no change to domain.yml change no file.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

from bot.translations import (
    CATALOG_DOMAIN,
    LOCALE_DIR,
    SOURCE_LANGUAGE,
    CatalogError,
    compile_catalogs,
    source_catalogs,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STEPS = ("all", "extract", "update", "compile")
# Directories pybabel's walk skips (it starts at the project root; babel.cfg picks the files).
IGNORED_DIRS = (".*", "_*", "node_modules", "models", "var", "results", "tests")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_POT_DATE = re.compile(rb'^"POT-Creation-Date: [^"]*\\n"\n', re.MULTILINE)


def _pybabel(root: Path, arguments: Sequence[str]) -> int:
    """Run pybabel from this interpreter with the project importable (the extractor lives in bot/)."""
    command = [sys.executable, "-m", "babel.messages.frontend", *arguments]
    print("$ pybabel " + " ".join(arguments), flush=True)
    env = dict(os.environ)
    # PROJECT_ROOT holds bot/ (the extractor), root the files to work on; the same in a checkout.
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(filter(None, [str(PROJECT_ROOT), str(root),
                                                                     env.get("PYTHONPATH")])))
    return subprocess.run(command, cwd=root, env=env).returncode


def extract(root: Path) -> int:
    """domain.yml -> locales/messages.pot; the file is left alone when only its date would change."""
    pot = root / LOCALE_DIR / "messages.pot"
    handle, temporary = tempfile.mkstemp(dir=pot.parent, prefix=".messages.", suffix=".pot")
    os.close(handle)
    try:
        arguments = ["extract", "-F", f"{LOCALE_DIR}/babel.cfg", "-o", os.path.relpath(temporary, root),
                     "--project=Resolve", "--no-wrap"]
        for pattern in IGNORED_DIRS:
            arguments += ["--ignore-dirs", pattern]
        status = _pybabel(root, arguments + ["."])
        if status != 0:
            return status
        fresh = Path(temporary).read_bytes()
        if pot.exists() and _POT_DATE.sub(b"", pot.read_bytes()) == _POT_DATE.sub(b"", fresh):
            print(f"{pot.relative_to(root)}: unchanged")
        else:
            os.replace(temporary, pot)
            print(f"{pot.relative_to(root)}: written")
        return 0
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def update(root: Path, add: Sequence[str] = ()) -> int:
    """Merge messages.pot into every locales/<lang>/LC_MESSAGES/messages.po, creating `add` ones."""
    pot = f"{LOCALE_DIR}/messages.pot"
    if not (root / pot).exists():
        print(f"{pot} is missing: run the extract step first.", file=sys.stderr)
        return 1
    existing = set(source_catalogs(root))
    for language in add:
        if language not in existing:
            status = _pybabel(root, ["init", "-i", pot, "-d", LOCALE_DIR, "-D", CATALOG_DOMAIN,
                                     "-l", language, "--no-wrap"])
            if status != 0:
                return status
    for language in sorted(set(source_catalogs(root))):
        status = _pybabel(root, ["update", "-i", pot, "-d", LOCALE_DIR, "-D", CATALOG_DOMAIN,
                                 "-l", language, "--no-wrap", "--previous",
                                 "--ignore-pot-creation-date"])
        if status != 0:
            return status
    return 0


def compile_step(root: Path) -> int:
    try:
        compiled = compile_catalogs(root)
    except CatalogError as error:
        print(error, file=sys.stderr)
        return 1
    for catalog in compiled:
        line = f"{catalog.language}: {catalog.translated}/{catalog.total} translated"
        if catalog.fuzzy or catalog.untranslated:
            line += (f", {catalog.fuzzy} fuzzy, {catalog.untranslated} untranslated "
                     "(these render in English until translated)")
        print(f"{line} -> {catalog.path.relative_to(root) if catalog.path.is_relative_to(root) else catalog.path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot translations",
        description="Extract response texts from domain.yml, update the locales/ catalogs, compile them.",
    )
    parser.add_argument("step", nargs="?", choices=STEPS, default="all",
                        help="run one step only (default: all three, in order)")
    parser.add_argument("--add", metavar="LANG", action="append", default=[],
                        help="start a catalog for a new language (e.g. fr); repeatable")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    options = _parser().parse_args(argv)
    root = options.root.resolve()
    for language in options.add:
        if not _LANGUAGE.match(language) or language == SOURCE_LANGUAGE:
            print(f"--add {language}: give a lowercase language code other than "
                  f"{SOURCE_LANGUAGE!r} (e.g. fr); English is the source in domain.yml.", file=sys.stderr)
            return 2
    if options.add and options.step not in ("all", "update"):
        print("--add goes with the update step (or all).", file=sys.stderr)
        return 2
    steps = ("extract", "update", "compile") if options.step == "all" else (options.step,)
    for step in steps:
        if step == "extract":
            status = extract(root)
        elif step == "update":
            status = update(root, options.add)
        else:
            status = compile_step(root)
        if status != 0:
            print(f"translations: the {step} step failed.", file=sys.stderr)
            return status
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
