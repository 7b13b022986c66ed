"""Cold start as Lambda does it: the shop_dev zip that `zappa package` builds, unpacked read-only,
a fresh interpreter that writes no bytecode (`python -I -S -B`: Lambda's /var/task is read-only)
importing Zappa's handler and answering GET /health, with the zip's bytecode (deploy/bytecode.py)
and without it (the same zip minus every `__pycache__`, as Zappa alone ships it), interleaved.

Also what the bytecode costs: the zip's size, and the time to unpack each zip here with Python's
zipfile into memory (/dev/shm when there is one, so this machine's disk does not drown the
figures). Lambda fetches and unpacks the code its own way before the interpreter starts; neither
its download nor its unpacking can be measured here, so this is only an order of magnitude."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

from bench.common import median, progress
from bench.packages import zappa_package
from deploy import lambda_venv
from tests.project_copy import packageable_copy

STAGE = "shop_dev"
LAMBDA_PROVIDED = ("boto3", "botocore", "s3transfer")  # in /var/runtime on Lambda; not packaged
COLD_START = textwrap.dedent("""
    import json, os, sys
    import importlib._bootstrap_external as bootstrap
    task_root, runtime_dir, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    from_source, to_code = [], bootstrap.SourceLoader.source_to_code
    def counting_source_to_code(self, data, path, *args, **kwargs):
        from_source.append(path)
        return to_code(self, data, path, *args, **kwargs)
    bootstrap.SourceLoader.source_to_code = counting_source_to_code
    sys.path[:0] = [task_root, runtime_dir]
    os.chdir(task_root)
    import handler
    class Context:
        function_name = "bench"
        def get_remaining_time_in_millis(self):
            return 10000
    answer = handler.lambda_handler(event, Context())
    assert answer["statusCode"] == 200, answer
    print(json.dumps({"from_source": sum(p.startswith(task_root) for p in from_source)}))
""")


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
    environ = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "ap-northeast-2",
               "LAMBDA_TASK_ROOT": str(task_root), "HOME": str(task_root)}
    started = time.perf_counter()
    done = subprocess.run([str(python), "-I", "-S", "-B", "-c", COLD_START, str(task_root),
                           str(runtime_dir), json.dumps(event)], env=environ,
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start failed: {done.stderr[-1000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])["from_source"]


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
