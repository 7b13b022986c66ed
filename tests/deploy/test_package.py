"""`zappa package` for each kind of stage, in a virtualenv holding only the runtime dependencies:
no test or dev tool in the zip, within the 24 MiB budget, bytecode for every module (unchecked-hash,
the runtime's magic number), and its handler answers in a clean interpreter (`python -I -S -B`:
the extracted zip, read-only, plus what the Lambda runtime provides, nothing else) without
compiling a single module of the package from source."""
from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy import callbacks, lambda_venv, rds_ca
from tests.lambda_run import outcome, run_handler
from tests.project_copy import packageable_copy

from .conftest import REPO, api_gateway_event, load_settings

pytestmark = pytest.mark.slow

MAX_BYTES = callbacks.PACKAGE_BUDGET_BYTES  # 24 MiB; the zip callback itself refuses over 30
RUNTIME_REQUIREMENTS = REPO / "requirements" / "runtime.txt"
# What the Lambda Python runtime puts on sys.path itself (/var/runtime); the settings exclude them.
LAMBDA_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
FORBIDDEN_TOP_LEVEL = {"pytest", "_pytest", "moto", "tests", "bench", "terraform", "docs", "seeds",
                       "local_stack", "xdist", "pluggy", "iniconfig", "responses", "gunicorn",
                       "hcl2", "checkov", ".venv", "build", "var", "pip", "setuptools",
                       "troposphere", "boto3", "botocore"}
STAGES = ["shop_dev", "factory_dev", "consumers_dev"]
ARTIFACTS = REPO / "test-artifacts" / "lambda-packages"


def _site_packages(env_dir: Path) -> Path:
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return env_dir / "lib" / python / "site-packages"


@pytest.fixture(scope="session")
def runtime_venv() -> Path:
    """A virtualenv with requirements/runtime.txt only, for Lambda's platform (deploy.lambda_venv),
    built once and cached in build/ (ignored by git) until runtime.txt changes. A file lock keeps
    parallel workers from building it twice."""
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    env_dir = REPO / "build" / f"venv-lambda2014-{digest}"
    stamp = env_dir / ".complete"
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(env_dir.parent / "venv-lambda.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            # as `make lambda-venv` builds it: manylinux2014 wheels Lambda's glibc 2.26 loads
            lambda_venv.build(env_dir, RUNTIME_REQUIREMENTS)
            provided = env_dir / "lambda-runtime"
            provided.mkdir(exist_ok=True)
            for name in LAMBDA_PROVIDED:
                (provided / name).symlink_to(_site_packages(env_dir) / name)
            stamp.write_text(digest)
    installed = {p.name.split("-")[0].lower() for p in _site_packages(env_dir).glob("*.dist-info")}
    assert not installed & {"pytest", "moto", "pytest_xdist", "gunicorn"}, installed
    return env_dir


def package(stage: str, env_dir: Path, tmp_path: Path) -> Path:
    """`zappa package <stage>` with VIRTUAL_ENV set, as a user runs it, in a copy of the project
    holding a CA bundle (`packageable_copy`). The one change to the committed settings: no
    manylinux wheel look-ups on PyPI (offline); the build virtualenv's wheels are Linux x86_64
    wheels already."""
    project = packageable_copy(tmp_path / "project")
    settings = load_settings()
    settings["base"]["use_precompiled_packages"] = False
    settings_file = tmp_path / "zappa_settings.json"
    settings_file.write_text(json.dumps(settings))
    output = tmp_path / f"{stage}.zip"
    environ = {**os.environ, "VIRTUAL_ENV": str(env_dir),
               "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    environ.pop("PYTHONPATH", None)
    done = subprocess.run([str(env_dir / "bin" / "zappa"), "package", stage,
                           "-s", str(settings_file), "-o", str(output)],
                          cwd=project, env=environ, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no dev or test tools" in done.stdout  # the settings' `callbacks.zip` ran and passed
    return output




def run_clean(task_root: Path, env_dir: Path, event: dict) -> dict:
    """Lambda's handler called as Lambda calls it, in a fresh interpreter that writes no bytecode
    (/var/task is read-only on Lambda; `task_root` is made read-only too, which root ignores):
    the package's modules must all load from its own `.pyc`."""
    done = run_handler(sys.executable, task_root, env_dir / "lambda-runtime", event)
    assert done.returncode == 0, done.stdout + done.stderr
    result = outcome(done)
    assert result["outside"] == [], f"imported from outside the package: {result['outside']}"
    assert result["modules"] > 100  # the app was imported, not just the handler
    assert result["from_source"] == [], (
        f"{len(result['from_source'])} modules of the package compiled from source at start, "
        f"e.g. {result['from_source'][:5]}")
    return result["answer"]


def assert_bytecode_for_every_module(zipped: zipfile.ZipFile) -> None:
    """Each `.py` has its `__pycache__/…cpython-311.pyc` of this Python's magic number (the
    runtime's, test_packages_are_built_with_the_python_of_the_lambda_runtime), unchecked-hash
    (PEP 552 flags 0b01: loaded without looking at the source), of the very source shipped."""
    names = set(zipped.namelist())
    sources = [n for n in names if n.endswith(".py")]
    assert len(sources) > 500 and "shop_api/wsgi.py" in sources and "handler.py" in sources
    for source in sources:
        cached = importlib.util.cache_from_source(source)
        assert cached in names, f"no bytecode for {source}"
        pyc = zipped.read(cached)
        assert pyc[:4] == importlib.util.MAGIC_NUMBER, f"{cached}: another Python's bytecode"
        assert int.from_bytes(pyc[4:8], "little") == 0b01, f"{cached}: not unchecked-hash"
        assert pyc[8:16] == importlib.util.source_hash(zipped.read(source)), (
            f"{cached}: compiled from another source")
    assert not [n for n in names if n.endswith(".pyc") and n.count("__pycache__/") != 1]


def make_read_only(tree: Path) -> None:
    for path in (tree, *tree.rglob("*")):
        path.chmod(path.stat().st_mode & ~0o222)


@pytest.mark.parametrize("stage", STAGES)
def test_zappa_package_holds_runtime_code_only_and_its_handler_answers(stage, runtime_venv,
                                                                        tmp_path):
    archive = package(stage, runtime_venv, tmp_path)
    size = archive.stat().st_size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{stage}.json").write_text(json.dumps(
        {"stage": stage, "bytes": size, "mib": round(size / 2**20, 2)}) + "\n")
    assert size <= MAX_BYTES, f"{stage}: {size / 2**20:.1f} MiB"

    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        top = {n.split("/")[0] for n in names}
        assert not top & FORBIDDEN_TOP_LEVEL, sorted(top & FORBIDDEN_TOP_LEVEL)
        assert not [n for n in names
                    if "/tests/" in n and n.startswith(("inventory_core", "deploy"))]
        assert_bytecode_for_every_module(zipped)
        assert {"handler.py", "zappa_settings.py", "deploy/tasks.py", "shop_api/wsgi.py",
                "consumers/outbox_sweep.py", rds_ca.RDS_CA_BUNDLE} <= set(names)
        assert any(n.startswith("inventory_core/adapters/migrations/") for n in names)
        # every shared object loads on Lambda's glibc 2.26 (cryptography, cffi, …)
        assert [n for n in names if n.endswith(".so")], "no compiled extension packaged?"
        assert callbacks.too_new_for_lambda(zipped) == {}
        task_root = tmp_path / "task"
        zipped.extractall(task_root)

    packaged = (task_root / "zappa_settings.py").read_text()
    assert f"API_STAGE='{stage}'" in packaged and "DEBUG=False" in packaged
    # Where Lambda unpacks the zip (/var/task), the bundle is at the path the URLs name.
    assert f"ssl_ca={rds_ca.LAMBDA_TASK_ROOT}/{rds_ca.RDS_CA_BUNDLE}" in packaged
    assert rds_ca.check((task_root / rds_ca.RDS_CA_BUNDLE).read_bytes()) >= 1
    make_read_only(task_root)  # as Lambda's /var/task

    checked = run_clean(task_root, runtime_venv, {"command": "deploy.tasks.self_check"})
    assert checked["stage"] == stage and checked["python"].startswith(
        f"{sys.version_info.major}.{sys.version_info.minor}.")
    expected = {e["function"] for e in load_settings()[stage]["events"] if "event_source" in e}
    assert expected <= set(checked["imported"])
    # every compiled extension of the package loaded (on Lambda: against its glibc 2.26)
    assert {"cryptography.hazmat.bindings._rust", "_cffi_backend"} <= set(checked["compiled"])

    if not stage.startswith("consumers"):
        health = run_clean(task_root, runtime_venv, api_gateway_event("GET", "/health"))
        assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}


def test_packages_are_built_with_the_python_of_the_lambda_runtime():
    # Compiled wheels (cryptography, cffi) in a package only load on the Python they were built for.
    from deploy.settings import RUNTIME
    assert f"python{sys.version_info.major}.{sys.version_info.minor}" == RUNTIME, (
        f"zappa_settings.json deploys {RUNTIME}; build and test the packages with that Python")
