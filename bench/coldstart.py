"""Cold start: a fresh interpreter importing a stage's Lambda entry point and building what it
builds, against one importing flask + sqlalchemy + boto3 alone; and each stage's package size."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median
from tests.project_copy import packageable_copy

BASELINE = "import flask, sqlalchemy, boto3"
CONSUMER_SETUP = "from consumers import runtime; runtime.settings()"
ENTRY_POINTS = {
    "shop (shop_api.wsgi:app)": "import shop_api.wsgi",
    "factory (factory_api.wsgi:app)": "import factory_api.wsgi",
    "consumers: order": f"import consumers.order; {CONSUMER_SETUP}; runtime.messaging()",
    "consumers: delivery": f"import consumers.delivery; {CONSUMER_SETUP}; runtime.messaging()",
    "consumers: dead_letter": f"import consumers.dead_letter; {CONSUMER_SETUP}",
    "consumers: outbox_sweep": f"import consumers.outbox_sweep; {CONSUMER_SETUP}",
    "factory: production consumer": f"import consumers.production; {CONSUMER_SETUP}",
}
ENV = {"SHOP_DATABASE_URL": "sqlite://", "FACTORY_DATABASE_URL": "sqlite://",
       "PYTHONDONTWRITEBYTECODE": "0"}


def wall_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **ENV}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(repeats: int) -> dict:
    figures = {}
    codes = {"baseline: " + BASELINE: BASELINE, **ENTRY_POINTS}
    for code in codes.values():  # byte-compile everything once: Lambda ships .pyc too
        wall_seconds(code)
    samples = {name: [] for name in codes}
    for _ in range(repeats):  # interleaved, so machine load hits all alike
        for name, code in codes.items():
            samples[name].append(wall_seconds(code))
    baseline = median(samples["baseline: " + BASELINE])
    for name, values in samples.items():
        figures[name] = {"seconds": median(values), "ratio": median(values) / baseline}
    return figures


def _runtime_venv(directory: Path, timeout: float) -> Path:
    """A virtualenv with requirements/runtime.txt only: what docs/deploy.md packages from (the
    deploy callback refuses a zip that holds the test tools of .venv)."""
    venv = directory / "venv-lambda"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=timeout)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements" / "runtime.txt")], check=True, timeout=timeout,
                   capture_output=True)
    return venv


def package_sizes(timeout: float) -> dict:
    """`zappa package STAGE` for each dev stage of zappa_settings.json, from a runtime-only
    virtualenv: the zip's size, or why it was not measured."""
    settings_file = ROOT / "zappa_settings.json"
    if not settings_file.exists():
        return {"-": "not measured: no zappa_settings.json"}
    stages = [s for s in json.loads(settings_file.read_text()) if s.endswith("_dev")]
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Packaged from a copy holding the CA bundle the database URLs name (the zip callback
        # refuses a package without it); a stand-in CA when the project has not fetched AWS's.
        project = packageable_copy(Path(tmp) / "project")
        try:
            venv = _runtime_venv(Path(tmp), timeout)
        except (subprocess.SubprocessError, OSError) as exc:
            return {"-": f"not measured: could not build a runtime-only virtualenv ({exc})"[:200]}
        env = {**os.environ, "VIRTUAL_ENV": str(venv),
               "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.pop("PYTHONHOME", None)
        for stage in stages:
            out = Path(tmp) / f"{stage}.zip"
            try:
                done = subprocess.run([str(venv / "bin" / "zappa"), "package", stage,
                                       "-o", str(out)], cwd=project, env=env,
                                      capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                sizes[stage] = f"not measured: `zappa package` took over {timeout:.0f} s"
                continue
            if done.returncode == 0 and out.exists():
                sizes[stage] = f"{out.stat().st_size / 2 ** 20:.1f} MiB"
            else:
                problem = [line for line in (done.stderr + done.stdout).splitlines()
                           if "Error" in line] or ["?"]
                sizes[stage] = f"not measured: `zappa package` failed: {problem[-1][:150]}"
    return sizes
