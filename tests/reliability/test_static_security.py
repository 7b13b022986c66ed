"""A static security check of the Python code: bandit finds nothing of medium or high severity
that is not justified in the code itself (`# nosec BXXX` with the reason beside it)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.reliability.conftest import ROOT

PACKAGES = ("inventory_core", "api_common", "shop_api", "factory_api", "consumers", "local_stack",
            "deploy")
def bandit_findings() -> list[dict]:
    targets = [name for name in PACKAGES if (ROOT / name).is_dir()]
    run = subprocess.run([sys.executable, "-m", "bandit", "--ini", ".bandit", "-r", *targets,
                          "-f", "json", "-q", "--severity-level", "medium"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode in (0, 1), run.stderr  # 1: findings; anything else: bandit broke
    report = json.loads(run.stdout)
    assert not report["errors"], report["errors"]
    assert report["metrics"]["_totals"]["loc"] > 1000  # it did scan the code
    return report["results"]


def test_no_unjustified_medium_or_high_findings():
    unjustified = [f"{r['filename']}:{r['line_number']} {r['test_id']} ({r['issue_severity']}): "
                   f"{r['issue_text']}"
                   for r in bandit_findings()
                   if r["issue_severity"] in ("MEDIUM", "HIGH")]
    assert unjustified == []
