"""Bytecode for the Lambda zip: a `__pycache__/*.cpython-311.pyc` next to each `.py` of the package.

Why: Zappa leaves every `__pycache__` out of the zip (its ZIP_EXCLUDES), and Lambda unpacks the zip
into /var/task, which is read-only. So without this, every cold start compiles every module it
imports from source and cannot keep the result: the shop's handler compiled 385 modules to answer
its first request, and took 2.6x as long as with bytecode (bench/lambda_coldstart.py,
docs/benchmarks.md).

How: each `.pyc` is compiled from the zip's own `.py` (so it is of the very source deployed) by the
interpreter running `zappa`, which must be the stage's runtime version (a `.pyc` of another
version has another magic number and is ignored: no gain, so the build is refused). It is an
unchecked-hash `.pyc` (PEP 552): the importer loads it without looking at the source's mtime or
hash. Zappa writes every zip entry with the same fixed date, and Lambda's unpacked files carry
whatever mtime it gives them, so a timestamp `.pyc` would be stale on arrival and checking the hash
would read and hash every source at each cold start. Unchecked is safe because the `.pyc` and its
`.py` are only ever shipped together, from the same bytes, in one zip. The `.py` files stay, for
tracebacks.

All modules, not only those imported at start: one rule, no import list to keep true, and a
module first imported by a request (or an error path) does not compile on that request. The cost
is size: 12.3 -> 20.0 MiB zipped per stage (the start-up modules alone would be 4-5 of those 7.6
MiB), far under Lambda's limits (50 MB zipped upload, 250 MB unzipped), for some more download when
Lambda fetches the code (docs/deploy.md).

Kept free of project imports: Zappa loads deploy/callbacks.py by path, which loads this file the
same way.
"""
from __future__ import annotations

import importlib.util
import marshal
import sys
import zipfile

LAMBDA_TASK_ROOT = "/var/task"
UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: hash-based (bit 0), check_source off (bit 1)


def running_runtime() -> str:
    """Lambda's name for the running interpreter's version, e.g. python3.11."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def unchecked_hash_pyc(source: bytes, filename: str) -> bytes:
    """The `.pyc` that `py_compile` writes with PycInvalidationMode.UNCHECKED_HASH: magic number,
    flags, the source's SipHash, then the marshalled code object. Raises SyntaxError."""
    code = compile(source, filename, "exec", dont_inherit=True)
    return (importlib.util.MAGIC_NUMBER + UNCHECKED_HASH_FLAGS.to_bytes(4, "little")
            + importlib.util.source_hash(source) + marshal.dumps(code))


def add_bytecode(zip_path: str, runtime: str) -> tuple[int, list[str]]:
    """Append to the zip an unchecked-hash `.pyc` for every `.py` that has none. Returns how many
    were added and the sources that did not compile (which would fail to import on Lambda too).
    Refuses to compile with an interpreter that is not the stage's `runtime`."""
    if runtime != running_runtime():
        raise RuntimeError(
            f"zappa runs on {running_runtime()} ({sys.executable}) but the stage deploys "
            f"{runtime}: bytecode compiled here would not be used by Lambda. Package from a "
            f"virtualenv of {runtime} (`make lambda-venv`, docs/deploy.md step 3)")
    added, failed = 0, []
    with zipfile.ZipFile(zip_path, "a", zipfile.ZIP_DEFLATED) as archive:
        names = set(archive.namelist())
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            cached = importlib.util.cache_from_source(name)
            if cached in names:
                continue
            try:
                pyc = unchecked_hash_pyc(archive.read(name), f"{LAMBDA_TASK_ROOT}/{name}")
            except (SyntaxError, ValueError):
                failed.append(name)
                continue
            info = zipfile.ZipInfo(cached, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3  # unix: the mode below is honoured when unpacked
            info.external_attr = 0o644 << 16
            archive.writestr(info, pyc, zipfile.ZIP_DEFLATED)
            added += 1
    return added, failed
