"""Shared objects that Lambda's python3.11 runtime (Amazon Linux 2, glibc 2.26) cannot load are
refused: the ELF reader against `readelf`, the zip callback on a real manylinux_2_34 object, and
the Lambda virtualenv's checks."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from deploy import callbacks, elf_glibc, lambda_venv


def _objects() -> list[Path]:
    """Compiled extensions of the dev virtualenv (this machine's wheels)."""
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return sorted(p for p in (site / "site-packages").rglob("*.so") if p.is_file())[:40]


def _newest(needs: set[str]) -> tuple[int, ...] | None:
    versions = [tuple(map(int, m.group(1).split("."))) for m in
                (re.fullmatch(r"GLIBC_([\d.]+)", n) for n in needs) if m]
    return max(versions) if versions else None


@pytest.mark.skipif(not shutil.which("readelf"), reason="binutils' readelf is not installed")
def test_version_needs_match_readelf():
    objects = _objects()
    assert objects
    for path in objects:
        shown = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True,
                               text=True, check=True).stdout
        needs = set(re.findall(r"Name: (GLIBC_[\d.]+)", shown))
        assert {n for n in elf_glibc.version_needs(path.read_bytes())
                if n.startswith("GLIBC_")} == needs, path
        assert elf_glibc.glibc_needed(path.read_bytes()) == _newest(needs), path


def _zip_cli(tmp_path: Path, files: dict[str, bytes]):
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return type("Cli", (), {"zip_path": str(archive), "stage_config": {}})()


def test_zip_callback_refuses_a_shared_object_newer_than_lambdas_glibc(tmp_path):
    too_new = [p for p in _objects() if elf_glibc.too_new(p.read_bytes())]
    loadable = [p for p in _objects() if elf_glibc.glibc_needed(p.read_bytes())
                and not elf_glibc.too_new(p.read_bytes())]
    if not too_new:  # this machine installed only old-glibc wheels: make one newer by hand
        pytest.skip("no extension here needs a glibc newer than 2.26")
    bad = too_new[0]
    with pytest.raises(RuntimeError, match=r"GLIBC_2\.(2[7-9]|[3-9]\d)"):
        callbacks.check_package(_zip_cli(tmp_path, {"handler.py": b"",
                                                    f"pkg/{bad.name}": bad.read_bytes()}))
    small = sorted(loadable, key=lambda p: p.stat().st_size)[:3]
    good = {"handler.py": b""} | {f"pkg/{p.name}": p.read_bytes() for p in small}
    callbacks.check_package(_zip_cli(tmp_path, good))


def test_glibc_limit_is_amazon_linux_2s():
    assert elf_glibc.LAMBDA_GLIBC == (2, 26)
    with pytest.raises(elf_glibc.NotElf):
        elf_glibc.version_needs(b"#!/bin/sh\n")


def test_zip_callback_refuses_a_websocket_api_found_in_a_virtualenv_under_the_project(tmp_path):
    cli = _zip_cli(tmp_path, {"handler.py": b""})
    cli.use_websocket = "build.venv.lib.python3.11.site-packages.zappa.handler"
    with pytest.raises(RuntimeError, match="WebSocket API"):
        callbacks.check_package(cli)


def test_lambda_venv_refuses_wheels_for_a_newer_glibc(tmp_path):
    env = tmp_path / "env"
    site = lambda_venv.site_packages(env)
    site.mkdir(parents=True)
    both = "cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64"
    for name, tag in (("ok-1.dist-info", both),
                      ("new-1.dist-info", "cp311-abi3-manylinux_2_34_x86_64"),
                      ("pure-1.dist-info", "py3-none-any")):
        (site / name).mkdir()
        purelib = "true" if name.startswith("pure") else "false"
        (site / name / "WHEEL").write_text(f"Root-Is-Purelib: {purelib}\nTag: {tag}\n")
    assert lambda_venv.check(env) == ["new-1.dist-info: Tag: cp311-abi3-manylinux_2_34_x86_64"]


def test_lambda_venv_scripts_run_from_any_directory(tmp_path, monkeypatch):
    # `make lambda-venv` passes `--dir .venv-lambda`: its zappa must still run outside the project
    # root (the benchmark packages a copy of the project with it).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lambda_venv.venv, "EnvBuilder", lambda **_: SimpleNamespace(
        create=lambda d: (Path(d) / "bin").mkdir(parents=True)))

    def pip(command, **_):
        scripts = Path(command[command.index("--target") + 1]) / "bin"
        scripts.mkdir(parents=True)
        (scripts / "zappa").write_text("#!/usr/bin/python3\nimport zappa.cli\n")
        return subprocess.CompletedProcess(command, 0, "", "")

    requirements = tmp_path / "runtime.txt"
    requirements.write_text("zappa==0.63.0\n")
    built = lambda_venv.build(Path(".venv-lambda"), requirements, run=pip)
    assert built == tmp_path / ".venv-lambda"
    zappa = (built / "bin" / "zappa").read_text().splitlines()
    assert zappa[0] == f"#!{tmp_path / '.venv-lambda' / 'bin' / 'python'}"
