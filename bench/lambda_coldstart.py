"""Cold start as Lambda does it: the shop_dev zip that `zappa package` builds, unpacked read-only,
a fresh interpreter that writes no bytecode (`python -I -S -B`: Lambda's /var/task is read-only)
importing Zappa's handler and answering GET /health, with the zip's bytecode (deploy/bytecode.py)
and without it (the same zip minus every `__pycache__`, as Zappa alone ships it), interleaved.

Also what the bytecode costs: the zip's size, and the time to unpack each zip here with Python's
zipfile into memory (/dev/shm when there is one, so this machine's disk does not drown the
figures). Lambda fetches and unpacks the code its own way before the interpreter starts; neither
its download nor its unpacking can be measured here, so this is only an order of magnitude."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import median, progress
from bench.packages import zappa_package
from deploy import lambda_venv
from tests.lambda_run import outcome, run_handler
from tests.project_copy import packageable_copy

STAGE = "shop_dev"
LAMBDA_PROVIDED = ("boto3", "botocore", "s3transfer")  # in /var/runtime on Lambda; not packaged


def without_bytecode(source: Path, target: Path) -> Path:
    """The zip minus every `__pycache__` entry: what Zappa ships without our zip callback."""
    with zipfile.ZipFile(source) as zipped, zipfile.ZipFile(target, "w") as out:
        for info in zipped.infolist():
            if "__pycache__/" not in info.filename:
                out.writestr(info, zipped.read(info), info.compress_type)
    return target


def unpack(archive: Path, target: Path) -> float:
    """Seconds to unpack the zip into `target`, which is then made read-only."""
    started = time.perf_counter()
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    seconds = time.perf_counter() - started
    for path in (target, *target.rglob("*")):
        path.chmod(path.stat().st_mode & ~0o222)
    return seconds


def cold_start(python: Path, task_root: Path, runtime_dir: Path, event: dict) -> tuple[float, int]:
    """Wall seconds of one fresh interpreter's cold start, and how many modules of the package
    it compiled from source."""
    started = time.perf_counter()
    done = run_handler(python, task_root, runtime_dir, event)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start failed: {done.stderr[-1000:]}")
    result = outcome(done)
    if result["answer"].get("statusCode") != 200:
        raise RuntimeError(f"cold start answered {result['answer']}")
    return seconds, len(result["from_source"])


def _writable(tree: Path) -> None:
    for path in (tree, *tree.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)


def run(repeats: int, env_dir: Path = lambda_venv.DEFAULT_DIR) -> dict:
    from tests.deploy.conftest import api_gateway_event

    progress(f"the Lambda virtualenv ({env_dir.name}, reused if built from this runtime.txt)")
    venv = lambda_venv.build(env_dir)
    in_memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="lambda-coldstart-", dir=in_memory) as tmp:
        work = Path(tmp)
        progress(f"zappa package {STAGE} (the zip callback adds the bytecode)")
        with_pyc = work / "with-pyc.zip"
        done = zappa_package(venv, packageable_copy(work / "project"), STAGE, with_pyc, 300)
        if done.returncode != 0:
            raise RuntimeError(f"zappa package {STAGE} failed: {done.stderr[-1000:]}")
        without_pyc = without_bytecode(with_pyc, work / "without-pyc.zip")
        runtime_dir = work / "var-runtime"
        runtime_dir.mkdir()
        for name in LAMBDA_PROVIDED:
            (runtime_dir / name).symlink_to(lambda_venv.site_packages(venv) / name)
        event = api_gateway_event("GET", "/health")
        python = venv / "bin" / "python"
        variants = {"with .pyc": with_pyc, "without .pyc": without_pyc}
        starts: dict[str, list[float]] = {name: [] for name in variants}
        unpacks: dict[str, list[float]] = {name: [] for name in variants}
        from_source = {}
        for round_ in range(repeats):  # interleaved, so machine load hits both alike
            progress(f"round {round_ + 1}/{repeats}: unpack and cold-start each zip once")
            for name, archive in variants.items():
                task_root = work / "task"
                unpacks[name].append(unpack(archive, task_root))
                seconds, from_source[name] = cold_start(python, task_root, runtime_dir, event)
                starts[name].append(seconds)
                _writable(task_root)
                shutil.rmtree(task_root)
        return {"stage": STAGE, "rounds": repeats, "from_source": from_source,
                "zip_mib": {name: archive.stat().st_size / 2 ** 20
                            for name, archive in variants.items()},
                "cold_start": {name: median(values) for name, values in starts.items()},
                "unpack": {name: median(values) for name, values in unpacks.items()}}
