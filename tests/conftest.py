"""Shared fixtures: a fresh database per test on SQLite and on MySQL/MariaDB, and moto's server.

MySQL tests use TEST_MYSQL_URL (default: MariaDB as root on 127.0.0.1:3306). Each test gets a
database of its own, so parallel workers and parallel runs never share state. Where no server
answers the MySQL tests skip, unless REQUIRE_MYSQL=1 (set by .ci/run), where they fail.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from inventory_core.adapters.migrate import prepare
from inventory_core.config import Settings
from local_stack.gunicorn_runner import free_port  # tests import it from here too
from tests.signing import WRITER

# Fake credentials for moto; never real ones (tests must not be able to reach AWS).
for _name, _value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                      "AWS_SESSION_TOKEN": "testing",
                      "AWS_DEFAULT_REGION": "ap-northeast-2"}.items():
    os.environ[_name] = _value

MYSQL_SERVER_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
BACKENDS = ["sqlite", "mysql"]


def _mysql_available() -> str | None:
    try:
        engine = create_engine(MYSQL_SERVER_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any reason the server cannot be reached
        return f"no MySQL server at TEST_MYSQL_URL ({exc.__class__.__name__}: {exc})"[:300]


_MYSQL_PROBLEM = _mysql_available()


def require_mysql() -> None:
    if _MYSQL_PROBLEM:
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(_MYSQL_PROBLEM)
        pytest.skip(_MYSQL_PROBLEM)


def new_database_url(backend: str, tmp_path, label: str) -> tuple[str, callable]:
    """A URL of an empty database of its own, and a function that drops it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'{label}.db'}", lambda: None
    require_mysql()
    name = f"t_{label}_{uuid.uuid4().hex[:12]}"
    server = create_engine(MYSQL_SERVER_URL)
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))

    def drop():
        from inventory_core.adapters.db import dispose_all
        dispose_all()
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    return make_url(MYSQL_SERVER_URL).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def mysql_backend() -> str:
    """For tests that are only meaningful on MySQL (row locks, real concurrency)."""
    require_mysql()
    return "mysql"


def _prepared(database: str, backend: str, tmp_path):
    url, drop = new_database_url(backend, tmp_path, database)
    prepare(database, url)
    return url, drop


@pytest.fixture
def shop_url(backend, tmp_path):
    url, drop = _prepared("shop", backend, tmp_path)
    yield url
    drop()


@pytest.fixture
def factory_url(backend, tmp_path):
    url, drop = _prepared("factory", backend, tmp_path)
    yield url
    drop()


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server over real HTTP, one per test worker."""
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def settings(moto_endpoint, shop_url, factory_url) -> Settings:
    """Settings of a deployment of its own: fresh databases and a unique name prefix, so each
    test sees only its own topics and queues on the shared moto server."""
    return Settings(shop_database_url=shop_url, factory_database_url=factory_url,
                    aws_endpoint_url=moto_endpoint, name_prefix=f"t{uuid.uuid4().hex[:10]}",
                    admin_token="test-admin-token", production_seconds=0, **WRITER)
