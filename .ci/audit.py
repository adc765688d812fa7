#!/usr/bin/env python3
"""Known vulnerabilities in the pinned dependencies (constraints.txt), through pip-audit.

Fails (exit 1) on a known vulnerability that has a fixed version, unless .ci/audit-ignore.txt names
it with a reason (for example: the fix needs a version Rasa 3.6's pins exclude). A vulnerability with
no fix yet is reported and does not fail the build: there is nothing to upgrade to.

When the vulnerability service cannot be reached (no network, or an index that serves packages but
not advisories: every pin comes back "not found"), the audit says so loudly and exits 0, so a
build machine without internet still builds. AUDIT_STRICT=1 turns that case into a failure.

Usage: audit.py PIP_AUDIT_EXECUTABLE [REQUIREMENTS]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".ci" / "audit-ignore.txt"
UNREACHABLE = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "timed out", "Temporary failure")


def ignored_ids() -> list[str]:
    """Vulnerability ids from the ignore file: `ID  reason` per line, # comments."""
    if not IGNORE_FILE.exists():
        return []
    lines = (line.split("#", 1)[0].strip() for line in IGNORE_FILE.read_text().splitlines())
    return [line.split()[0] for line in lines if line]


def unavailable(reason: str) -> int:
    print(f"audit: NOT RUN, the vulnerability service is unreachable ({reason}).", file=sys.stderr)
    if os.environ.get("AUDIT_STRICT") == "1":
        return 1
    print("audit: passing without a verdict (AUDIT_STRICT=1 fails instead).", file=sys.stderr)
    return 0


def main(pip_audit: str, requirements: str = "constraints.txt") -> int:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "audit.json"
        command = [pip_audit, "-r", requirements, "--no-deps", "--disable-pip", "--progress-spinner", "off",
                   "-f", "json", "-o", str(report)]
        for vuln_id in ignored_ids():
            command += ["--ignore-vuln", vuln_id]
        try:
            run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return unavailable("no answer in 15 minutes")
        if not report.exists():
            if any(marker in run.stderr for marker in UNREACHABLE):
                return unavailable(run.stderr.strip().splitlines()[-1][:200])
            print(run.stderr, file=sys.stderr)
            print("audit: pip-audit failed", file=sys.stderr)
            return 2
        dependencies = json.loads(report.read_text())["dependencies"]
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        return unavailable(f"all {len(dependencies)} pins came back unknown: {dependencies[0]['skip_reason']}")
    fixable = 0
    for dependency in audited:
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            fixable += bool(vuln.get("fix_versions"))
            print(f"{dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"({', '.join(vuln.get('aliases') or [])}) fixed in: {fixes}")
    skipped = len(dependencies) - len(audited)
    print(f"audit: {len(audited)} pins audited, {skipped} skipped, {fixable} vulnerabilities with a fix")
    return 1 if fixable else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
