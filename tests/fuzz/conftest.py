"""Both apps in process (WSGI) on fresh databases: MariaDB when reachable (its limits are the
ones that matter: column lengths, integer ranges, utf8mb4), SQLite otherwise."""
from __future__ import annotations

import os
import uuid

import pytest

from inventory_core.adapters.db import dispose_all
from inventory_core.adapters.messaging import ensure_topology
from inventory_core.adapters.migrate import prepare
from inventory_core.config import Settings
from tests.conftest import _MYSQL_PROBLEM, new_database_url, require_mysql
from tests.signing import WRITER

ADMIN_TOKEN = "fuzz-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def fuzz_backend() -> str:
    """MariaDB when reachable; with REQUIRE_MYSQL=1 an unreachable one fails the tests (as
    everywhere else) instead of quietly falling back to SQLite."""
    if _MYSQL_PROBLEM and os.environ.get("REQUIRE_MYSQL") == "1":
        require_mysql()  # fails
    return "sqlite" if _MYSQL_PROBLEM else "mysql"


def pytest_report_header(config):
    """Which database the fuzzing runs against, at the top of the run's output."""
    if not _MYSQL_PROBLEM:
        return "fuzz backend: mysql"
    if os.environ.get("REQUIRE_MYSQL") == "1":
        return f"fuzz backend: none, REQUIRE_MYSQL=1 and {_MYSQL_PROBLEM}"
    return f"fuzz backend: sqlite, {_MYSQL_PROBLEM}"


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory, moto_endpoint):
    backend = fuzz_backend()
    tmp = tmp_path_factory.mktemp("fuzz")
    shop_url, drop_shop = new_database_url(backend, tmp, "fzshop")
    factory_url, drop_factory = new_database_url(backend, tmp, "fzfactory")
    prepare("shop", shop_url)
    prepare("factory", factory_url)
    settings = Settings(shop_database_url=shop_url, factory_database_url=factory_url,
                        aws_endpoint_url=moto_endpoint, name_prefix=f"fz{uuid.uuid4().hex[:8]}",
                        admin_token=ADMIN_TOKEN, production_seconds=0,
                        factory_api_url="http://127.0.0.1:9", **WRITER)
    ensure_topology(settings)
    yield settings
    dispose_all()
    drop_shop()
    drop_factory()


@pytest.fixture(scope="module")
def shop_app(fuzz_settings):
    from shop_api import create_app
    return create_app({"SETTINGS": fuzz_settings, "TESTING": False})


@pytest.fixture(scope="module")
def factory_app(fuzz_settings):
    from factory_api import create_app
    return create_app({"SETTINGS": fuzz_settings, "TESTING": False})


# Bugs found by this suite and not yet fixed: test id -> reason. Each such test is marked
# xfail(strict=True), so fixing the bug makes it fail until its entry is removed. Fixed so far:
# errors answered as a list, JSON nested 10,000 deep (RecursionError), 5,000-digit integers.
KNOWN_BUGS: dict[str, str] = {}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/fuzz/" not in str(item.fspath).replace("\\", "/"):
            continue
        item.add_marker(pytest.mark.xdist_group("fuzz"))
        reason = KNOWN_BUGS.get(item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
