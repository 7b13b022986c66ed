"""The import graph shows the layers and points one way (inventory_core/__init__.py):
entry points -> inventory_core.databases -> service_layer -> adapters -> domain.

Read from the source with `ast`, so a new module is checked the day it is added."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "inventory_core"
ENTRY_POINTS = ("api_common", "shop_api", "factory_api", "consumers", "local_stack", "deploy")


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "versions" not in p.parts)


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", modules(CORE / "domain"), ids=lambda p: p.name)
def test_domain_has_no_io_and_imports_only_domain(path):
    wrong = {m for m in imports_of(path)
             if (_under(m, "inventory_core") and not _under(m, "inventory_core.domain"))
             or _under(m, "sqlalchemy", "boto3", "botocore", "requests", "flask", "alembic",
                       "pymysql", "socket", "urllib", "http")}
    assert wrong == set()


@pytest.mark.parametrize("path", modules(CORE / "adapters"), ids=lambda p: p.name)
def test_adapters_never_import_the_service_layer(path):
    wrong = {m for m in imports_of(path)
             if _under(m, "inventory_core.service_layer", "inventory_core.databases")}
    assert wrong == set()


@pytest.mark.parametrize("path", modules(CORE / "service_layer"), ids=lambda p: p.name)
def test_use_cases_reach_brokers_only_through_adapters(path):
    assert {m for m in imports_of(path) if _under(m, "boto3", "botocore", "requests")} == set()


@pytest.mark.parametrize("path", modules(CORE), ids=lambda p: str(p.relative_to(CORE)))
def test_inventory_core_imports_no_entry_point_and_no_flask(path):
    wrong = {m for m in imports_of(path) if _under(m, "flask", "werkzeug", *ENTRY_POINTS)}
    assert wrong == set()


@pytest.mark.parametrize("package", ["api_common", "shop_api", "factory_api", "consumers"])
def test_sql_lives_only_in_inventory_core(package):
    # Entry points may catch SQLAlchemy's exceptions; they build no query and open no session.
    offenders = {f"{path.relative_to(ROOT)}: {m}" for path in modules(ROOT / package)
                 for m in imports_of(path)
                 if _under(m, "sqlalchemy") and not _under(m, "sqlalchemy.exc")}
    assert offenders == set()


def test_the_checks_see_every_layer():
    # A guard against a rename that would leave the tests above checking empty folders.
    for layer in ("domain", "service_layer", "adapters"):
        assert len(modules(CORE / layer)) >= 3, layer
