"""Build the virtualenv that Zappa packages: requirements/runtime.txt as wheels for *Lambda's*
platform, not this machine's.

    .venv/bin/python -m deploy.lambda_venv                 # -> .venv-lambda (make lambda-venv)
    .venv/bin/python -m deploy.lambda_venv --dir DIR

Why: pip on this machine picks the newest wheel its glibc allows (e.g. cryptography's
manylinux_2_34), which Lambda's python3.11 runtime (Amazon Linux 2, glibc 2.26) cannot load. So
pip installs with `--platform manylinux2014_x86_64 --python-version 3.11 --implementation cp`
into the virtualenv's site-packages (`--target`). `--no-deps`: runtime.txt pins every
dependency, and with --no-deps pip may build the few pure-Python sdists (placebo) that have no
wheel; `--prefer-binary` keeps every compiled package a wheel. Afterwards every installed
distribution that is not pure Python must carry a manylinux tag Lambda can load, and no shared
object may need a glibc newer than 2.26 (deploy/elf_glibc.py, as deploy.callbacks checks the zip).

The directory is hidden (`.venv-lambda`): Zappa's `exclude` drops `.venv-*`, and its scan for
`zappa.websocket` imports skips hidden directories (a visible virtualenv holding Zappa's own
sources would make `zappa deploy` add a WebSocket API).
"""
from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from deploy import elf_glibc

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements" / "runtime.txt"
DEFAULT_DIR = ROOT / ".venv-lambda"
PLATFORM = "manylinux2014_x86_64"  # glibc 2.17: loads on Amazon Linux 2 (2.26)
PYTHON_VERSION = "3.11"  # Lambda's runtime (deploy.settings.RUNTIME)
_MANYLINUX = re.compile(r"manylinux(?:_(\d+)_(\d+)|(2014|2010|1))_x86_64")
_LEGACY = {"1": (2, 5), "2010": (2, 12), "2014": (2, 17)}


class BuildError(RuntimeError):
    pass


def site_packages(env_dir: Path) -> Path:
    return env_dir / "lib" / f"python{PYTHON_VERSION}" / "site-packages"


def digest(requirements: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]


def _wheel_glibc(tag_line: str) -> tuple[int, int] | None:
    """The oldest glibc a WHEEL `Tag:` allows, or None for a non-manylinux tag."""
    found = []
    for match in _MANYLINUX.finditer(tag_line):
        major, minor, legacy = match.groups()
        found.append(_LEGACY[legacy] if legacy else (int(major), int(minor)))
    return min(found) if found else None


def check(env_dir: Path) -> list[str]:
    """Problems of the built virtualenv: compiled distributions without a manylinux tag Lambda
    loads, and shared objects needing a glibc newer than Lambda's."""
    problems = []
    packages = site_packages(env_dir)
    for wheel in sorted(packages.glob("*.dist-info/WHEEL")):
        text = wheel.read_text()
        if "Root-Is-Purelib: true" in text:
            continue
        tags = [line for line in text.splitlines() if line.startswith("Tag:")]
        oldest = min((g for g in map(_wheel_glibc, tags) if g), default=None)
        if oldest is None or oldest > elf_glibc.LAMBDA_GLIBC:
            problems.append(f"{wheel.parent.name}: {', '.join(tags) or 'no tag'}")
    for path in sorted(packages.rglob("*.so*")):
        if path.is_file():
            data = path.read_bytes()
            if data[:4] == b"\x7fELF" and elf_glibc.too_new(data):
                problems.append(f"{path.relative_to(packages)} needs "
                                f"GLIBC_{'.'.join(map(str, elf_glibc.glibc_needed(data) or ()))}")
    return problems


def build(env_dir: Path = DEFAULT_DIR, requirements: Path = REQUIREMENTS,
          run=subprocess.run) -> Path:
    """Create (or reuse, when built from the same requirements) the Lambda virtualenv."""
    if sys.version_info[:2] != (3, 11):
        raise BuildError(f"run this with Python {PYTHON_VERSION} (Lambda's runtime), not "
                         f"{sys.version.split()[0]}: Zappa runs inside the virtualenv it packages")
    # Absolute: the console scripts' shebangs name this path (`make lambda-venv` passes a relative
    # one, and a relative shebang runs only from the project root).
    env_dir = Path(env_dir).resolve()
    stamp = env_dir / ".lambda-venv"
    if stamp.exists() and stamp.read_text() == digest(requirements):
        return env_dir
    # with pip (and, on 3.11, setuptools): Zappa's CLI imports setuptools; `exclude` drops both
    venv.EnvBuilder(clear=True, with_pip=True).create(env_dir)
    target = site_packages(env_dir)
    done = run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--prefer-binary", "--platform", PLATFORM, "--python-version",
                PYTHON_VERSION, "--implementation", "cp", "--target", str(target), "--upgrade",
                "-r", str(requirements)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise BuildError(f"pip could not install {requirements.name} for {PLATFORM}:\n"
                         + done.stderr[-2000:])
    _install_scripts(target / "bin", env_dir / "bin")
    problems = check(env_dir)
    if problems:
        raise BuildError("not loadable on Lambda (glibc 2.26):\n  " + "\n  ".join(problems))
    stamp.write_text(digest(requirements))
    return env_dir


def _install_scripts(source: Path, bin_dir: Path) -> None:
    """pip --target leaves console scripts (zappa, flask …) in site-packages/bin with the
    installing Python's shebang: move them into the virtualenv's bin, running its own Python."""
    if not source.is_dir():
        return
    for script in source.iterdir():
        if script.is_file():
            lines = script.read_text(errors="replace").splitlines(keepends=True)
            if lines and lines[0].startswith("#!") and "python" in lines[0]:
                lines[0] = f"#!{bin_dir / 'python'}\n"
            destination = bin_dir / script.name
            destination.write_text("".join(lines))
            destination.chmod(0o755)
    shutil.rmtree(source)  # never packaged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.lambda_venv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="the virtualenv to build")
    parser.add_argument("--requirements", default=str(REQUIREMENTS))
    args = parser.parse_args(argv)
    try:
        env_dir = build(Path(args.dir), Path(args.requirements))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{env_dir}: {PLATFORM} wheels for python{PYTHON_VERSION}, nothing newer than glibc "
          f"2.26. Deploy with `source {env_dir}/bin/activate` and `zappa …` (docs/deploy.md)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
