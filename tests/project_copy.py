"""A copy of the project ready for `zappa package`, as a user has it after `python -m
deploy.settings`: its files, and the RDS CA bundle its database URLs name. Used by the package
tests and the benchmarks, so neither packages the live checkout (other workers write into it) nor
needs AWS's real bundle (a throw-away CA stands in when the project has none)."""
from __future__ import annotations

import shutil
from pathlib import Path

from deploy import rds_ca
from tests.tls_certs import make_authority

ROOT = Path(__file__).resolve().parent.parent
NOT_COPIED = (".git", ".venv*", "build", "var", "test-artifacts", ".pytest_cache", "__pycache__",
              ".hypothesis", ".terraform", "certs", ".mypy_cache", ".ruff_cache")


def packageable_copy(target: Path) -> Path:
    """`target` holding the project's files and a CA bundle: the project's own when it has one."""
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*NOT_COPIED))
    own = ROOT / rds_ca.RDS_CA_BUNDLE
    rds_ca.install(own.read_bytes() if own.exists() else make_authority("stand-in RDS CA").pem,
                   root=target)
    return target
