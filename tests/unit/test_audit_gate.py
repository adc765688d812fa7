"""`make audit`'s verdict (.ci/audit.py) on what pip-audit reports, with a stand-in for pip-audit.

pip-audit itself needs the vulnerability service, which a build machine may not reach: the stand-in
writes the JSON report pip-audit would write (or fails the way it fails offline).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FIXABLE = {"name": "aiohttp", "version": "3.9.5", "vulns": [
    {"id": "GHSA-test-0001", "fix_versions": ["3.10.11"], "aliases": ["CVE-0000-0001"], "description": ""}]}
UNFIXED = {"name": "jinja2", "version": "3.1.4", "vulns": [
    {"id": "GHSA-test-0002", "fix_versions": [], "aliases": [], "description": ""}]}
CLEAN = {"name": "babel", "version": "2.16.0", "vulns": []}
UNKNOWN = {"name": "absl-py", "skip_reason": "Dependency not found on PyPI and could not be audited: absl-py (1.4.0)"}


def fake_pip_audit(tmp_path: Path, dependencies=None, stderr: str = "") -> Path:
    script = tmp_path / "pip-audit"
    report = json.dumps({"dependencies": dependencies or [], "fixes": []})
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"report, stderr = {report!r}, {stderr!r}\n"
        "if stderr:\n    sys.stderr.write(stderr)\n    sys.exit(1)\n"
        "open(sys.argv[sys.argv.index('-o') + 1], 'w').write(report)\n"
        "sys.exit(1 if 'fix_versions' in report else 0)\n")
    script.chmod(0o755)
    return script


def audit(executable: Path, strict: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_STRICT"}
    if strict:
        env["AUDIT_STRICT"] = "1"
    return subprocess.run([sys.executable, str(ROOT / ".ci" / "audit.py"), str(executable)], env=env,
                          capture_output=True, text=True, timeout=60)


# What pip-audit found -> whether the build fails.
@pytest.mark.parametrize("dependencies, code", [
    ([CLEAN, FIXABLE], 1),  # a vulnerability with a fixed version: upgrade (or justify in audit-ignore.txt)
    ([CLEAN, UNFIXED], 0),  # no fix exists yet: reported, not fatal
    ([CLEAN], 0),  # nothing known
    ([CLEAN, UNKNOWN], 0),  # one pin the index does not know (a local package): the rest was audited
])
def test_only_a_fixable_vulnerability_fails_the_build(tmp_path, dependencies, code):
    result = audit(fake_pip_audit(tmp_path, dependencies))
    assert result.returncode == code, result.stdout + result.stderr
    for dependency in dependencies:
        for vuln in dependency.get("vulns", []):
            assert vuln["id"] in result.stdout  # every finding is printed, fatal or not


# Offline: the build still passes, loudly, unless AUDIT_STRICT=1.
@pytest.mark.parametrize("dependencies, stderr", [
    ([UNKNOWN, {**UNKNOWN, "name": "babel"}], ""),  # an index that serves packages but no advisories
    (None, "requests.exceptions.ConnectionError: Max retries exceeded with url: /pypi/babel/json"),  # no network
])
def test_an_unreachable_vulnerability_service_is_not_a_verdict(tmp_path, dependencies, stderr):
    executable = fake_pip_audit(tmp_path, dependencies, stderr)
    relaxed = audit(executable)
    assert relaxed.returncode == 0 and "NOT RUN" in relaxed.stderr
    assert audit(executable, strict=True).returncode == 1
