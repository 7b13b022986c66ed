"""Package size per stage: `zappa package STAGE` for each dev stage of zappa_settings.json, from the
virtualenv a deploy packages from: `make lambda-venv` (deploy.lambda_venv.build, .venv-lambda),
manylinux2014 wheels for Lambda's python3.11 and glibc 2.26. Not the dev virtualenv: its wheels
are this machine's (cryptography's needs glibc 2.34) and the zip callback refuses them, and its
test tools are no part of a deploy. So the figures are what a deploy uploads.

The same way tests/deploy/test_package.py packages (which asserts the limit): a copy of the
project holding a CA bundle (tests.project_copy), VIRTUAL_ENV set, no PYTHONPATH."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from bench.common import ROOT, progress
from deploy import callbacks, lambda_venv
from tests.project_copy import packageable_copy

LIMIT_MIB = callbacks.PACKAGE_BUDGET_BYTES / 2 ** 20  # 24 MiB, as tests/deploy/test_package.py


def lambda_env(env_dir: Path) -> dict:
    """The environment of a shell that ran `source .venv-lambda/bin/activate`."""
    env = {**os.environ, "VIRTUAL_ENV": str(env_dir),
           "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("PYTHONHOME", "PYTHONPATH"):
        env.pop(name, None)
    return env


def zappa_package(venv: Path, project: Path, stage: str, out: Path,
                  timeout: float) -> subprocess.CompletedProcess:
    """`zappa package STAGE -o OUT` in `project`, run as a shell with the virtualenv active."""
    # its python named: a .venv-lambda built before deploy.lambda_venv wrote absolute shebangs
    # runs its zappa only from the project root
    return subprocess.run([str(venv / "bin" / "python"), str(venv / "bin" / "zappa"), "package",
                           stage, "-o", str(out)], cwd=project, env=lambda_env(venv),
                          capture_output=True, text=True, timeout=timeout)


def package_sizes(timeout: float, env_dir: Path = lambda_venv.DEFAULT_DIR) -> dict:
    """{stage: "12.2 MiB"}, or why a stage was not measured."""
    settings_file = ROOT / "zappa_settings.json"
    if not settings_file.exists():
        return {"-": "not measured: no zappa_settings.json"}
    stages = [s for s in json.loads(settings_file.read_text()) if s.endswith("_dev")]
    progress(f"the Lambda virtualenv ({env_dir.name}, reused if built from this runtime.txt)")
    try:  # as `make lambda-venv`: rebuilt only when requirements/runtime.txt changed
        venv = lambda_venv.build(env_dir)
    except (lambda_venv.BuildError, subprocess.SubprocessError, OSError) as exc:
        return {"-": f"not measured: no Lambda virtualenv ({exc})"[:300]}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Packaged from a copy holding the CA bundle the database URLs name (the zip callback
        # refuses a package without it); a stand-in CA when the project has not fetched AWS's.
        project = packageable_copy(Path(tmp) / "project")
        for number, stage in enumerate(stages, 1):
            progress(f"zappa package {stage} ({number}/{len(stages)})")
            out = Path(tmp) / f"{stage}.zip"
            try:
                done = zappa_package(venv, project, stage, out, timeout)
            except subprocess.TimeoutExpired:
                sizes[stage] = f"not measured: `zappa package` took over {timeout:.0f} s"
                continue
            if done.returncode == 0 and out.exists():
                mib = out.stat().st_size / 2 ** 20
                sizes[stage] = f"{mib:.1f} MiB" + ("" if mib <= LIMIT_MIB else
                                                  f" (over the {LIMIT_MIB:.0f} MiB budget)")
            else:
                problem = [line for line in (done.stderr + done.stdout).splitlines()
                           if "Error" in line or "error" in line] or ["?"]
                sizes[stage] = f"not measured: `zappa package` failed: {problem[-1][:150]}"
    return sizes
