"""checkov over terraform/, in its own virtualenv (.venv-checkov, pins in
tools/checkov/requirements.txt).

The virtualenv is created on first run (about 20 s with a package index at hand); the test is
skipped, with the reason, only when pip cannot install checkov (no index reachable). Every check
checkov cannot pass carries an inline `#checkov:skip=CKV_...:reason` in terraform/
(test_every_checkov_skip_gives_a_reason).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.infra.conftest import REPO, TERRAFORM_DIR

REQUIREMENTS = REPO / "tools" / "checkov" / "requirements.txt"
VENV = REPO / ".venv-checkov"
CHECKOV = VENV / "bin" / "checkov"


def _stamp():
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    return VENV / f".installed-{digest}"


def ensure_checkov() -> None:
    stamp = _stamp()
    if stamp.exists() and CHECKOV.exists():
        return
    created = subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)],
                             capture_output=True, text=True, timeout=300)
    if created.returncode != 0:
        pytest.skip(f"cannot create {VENV.name} for checkov: {created.stderr.strip()[-500:]}")
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
    try:
        installed = subprocess.run(pip, capture_output=True, text=True, timeout=540)
    except subprocess.TimeoutExpired:
        pytest.skip("pip could not install checkov into .venv-checkov within 9 minutes (package "
                    "index slow?)")
    if installed.returncode != 0:
        pytest.skip("pip could not install checkov into .venv-checkov (package index "
                    "unreachable?): " + installed.stderr.strip()[-800:])
    stamp.touch()


# `make test` runs -n auto --dist loadgroup: checkov has one worker, in parallel with the rest.
@pytest.mark.xdist_group("checkov")
@pytest.mark.timeout(1200)
def test_checkov_finds_no_failed_checks():
    ensure_checkov()
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [str(CHECKOV), "--skip-download", "--quiet", "--compact", "--framework", "terraform",
         "-d", str(TERRAFORM_DIR), "-o", "json"],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert result.stdout.strip(), (f"checkov printed nothing (exit {result.returncode}):\n"
                                   f"{result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
              for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    summary = {key: sum(r["summary"][key] for r in reports)
               for key in ("passed", "failed", "skipped", "parsing_errors")}
    print(f"checkov {reports[0]['summary'].get('checkov_version')}: {summary}")
    assert summary["parsing_errors"] == 0, result.stdout[-2000:]
    assert failed == [], "checkov failed checks:\n" + "\n".join(failed)
    assert summary["failed"] == 0
    assert summary["passed"] >= 100, summary  # it really scanned the whole stack
    assert result.returncode == 0
