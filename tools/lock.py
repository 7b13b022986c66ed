"""`make lock`: re-pin requirements/*.txt the way they were made, as `pip freeze` of fresh
virtualenvs (every transitive dependency pinned, sorted case-insensitively).

- runtime.txt: a virtualenv with pyproject.toml's `dependencies` (what a Lambda package holds);
- dev.txt: `-r runtime.txt` plus the freeze of a virtualenv holding every name dev.txt lists now,
  resolved with runtime.txt as constraints, less what runtime.txt pins.

It upgrades to the newest versions the ranges allow: run the tests (`make test`) afterwards and
rebuild the Lambda virtualenv (`make lambda-venv`).
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME, DEV = ROOT / "requirements" / "runtime.txt", ROOT / "requirements" / "dev.txt"
SKIP = {"pip", "setuptools", "wheel", "stock-replenishment"}


def _header(path: Path) -> str:
    return path.read_text().splitlines()[0] + "\n"


def _name(line: str) -> str:
    return re.split(r"[=<>\[ ]", line, maxsplit=1)[0].strip().lower().replace("_", "-")


def _freeze(requirements: list[str], constraints: Path | None = None) -> list[str]:
    with tempfile.TemporaryDirectory() as temporary:
        venv.EnvBuilder(with_pip=True).create(temporary)
        python = str(Path(temporary) / "bin" / "python")
        extra = ["-c", str(constraints)] if constraints else []
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *extra, *requirements], check=True)
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--all"], check=True,
                                capture_output=True, text=True).stdout.splitlines()
    return sorted((line for line in frozen if "==" in line and _name(line) not in SKIP),
                  key=str.lower)


def main() -> int:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime = _freeze(dependencies)
    RUNTIME.write_text(_header(RUNTIME) + "\n".join(runtime) + "\n")
    pinned = {_name(line) for line in runtime}
    dev_names = [_name(line) for line in DEV.read_text().splitlines()
                 if line and not line.startswith(("#", "-r"))]
    dev = [line for line in _freeze(dev_names, RUNTIME) if _name(line) not in pinned]
    DEV.write_text(_header(DEV) + "-r runtime.txt\n" + "\n".join(dev) + "\n")
    print(f"pinned {len(runtime)} runtime and {len(dev)} dev packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
