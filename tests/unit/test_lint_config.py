"""`make lint` (ruff and mypy, run by `make test`) checks what pyproject.toml says it does.

The settings are easy to weaken without noticing: a new package left out of mypy's list, or a
per-module `strict` key, which mypy applies to every module instead. These tests read the settings
and run both tools on probe files written to a temporary copy of the layout."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
UNTYPED = "def double(x):\n    return x * 2\n"
PROBES = ("inventory_core/domain/probe.py", "inventory_core/service_layer/probe.py")


def test_mypy_checks_every_packaged_module_and_the_deployment_tools():
    packaged = {p.rstrip("*") for p in CONFIG["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packaged | {"deploy"} <= set(CONFIG["tool"]["mypy"]["files"])


def _probe_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for package in [p for p in path.parents if tmp_path in p.parents]:
            (package / "__init__.py").touch()
        path.write_text(text)
    return tmp_path


def test_the_domain_alone_is_strict(tmp_path):
    tree = _probe_tree(tmp_path, dict.fromkeys(PROBES, UNTYPED))
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *PROBES], cwd=tree,
                         capture_output=True, text=True, timeout=120)
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert run.returncode == 1, run.stdout + run.stderr
    assert len(errors) == 1 and errors[0].startswith("inventory_core/domain/probe.py:1:"), errors
    assert errors[0].endswith("[no-untyped-def]")


def test_ruff_finds_a_lost_exception_cause_and_a_blanket_noqa(tmp_path):
    tree = _probe_tree(tmp_path, {"consumers/probe.py": (
        "import os  # noqa\n"
        "\n\n"
        "def parse(text: str) -> int:\n"
        "    try:\n"
        "        return int(text)\n"
        "    except ValueError:\n"
        "        raise LookupError(text)\n")})
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                          "--output-format", "concise", "consumers/probe.py"],
                         cwd=tree, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "probe.py:8:9: B904" in run.stdout, run.stdout
    assert "probe.py:1:12: PGH004" in run.stdout, run.stdout  # a noqa naming no rule
