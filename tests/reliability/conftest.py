"""Fixtures of the reliability suite: MariaDB only (the claims are about real concurrency), a
real WSGI server (gunicorn) in a subprocess, and a count of the server's connections per database.

Scale: RELIABILITY_SCALE (default 1.0) multiplies the loads, for a slow machine or a soak run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from inventory_core.adapters.migrate import prepare
from local_stack.gunicorn_runner import Gunicorn
from tests.conftest import MYSQL_SERVER_URL, new_database_url, require_mysql

# The whole-deployment fixture (apps behind HTTP servers, pollers, moto topology), reused as is.
from tests.integration.conftest import stack  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("RELIABILITY_SCALE", "1") or 1)


def scaled(n: int, minimum: int = 1) -> int:
    return max(minimum, round(n * SCALE))


def pytest_collection_modifyitems(items):
    # One xdist worker runs the whole suite, one test after another: each test is a load test
    # and two at once on two cores would measure each other.
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.xdist_group("reliability"))
            if {"backend", "fresh_database", "stack", "settings"} & set(item.fixturenames):
                item.add_marker(pytest.mark.mysql)


@pytest.fixture
def backend() -> str:
    """Overrides the sqlite/mysql parameter: this suite is about MariaDB."""
    require_mysql()
    return "mysql"


@pytest.fixture
def fresh_database(tmp_path):
    """`fresh_database("shop")` -> URL of a new, migrated and seeded MariaDB database."""
    drops = []

    def make(database: str, label: str | None = None) -> str:
        url, drop = new_database_url("mysql", tmp_path, label or database)
        drops.append(drop)
        prepare(database, url)
        return url

    require_mysql()
    yield make
    for drop in reversed(drops):
        drop()


def server_connections(url: str) -> int:
    """How many connections the MariaDB server holds to `url`'s database (any client)."""
    name = make_url(url).database
    engine = create_engine(MYSQL_SERVER_URL)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = :name "
                "AND ID <> CONNECTION_ID()"), {"name": name}).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def gunicorn(tmp_path):
    started: list[Gunicorn] = []

    def start(app: str, env: dict, **kwargs) -> Gunicorn:
        server = Gunicorn(app, env, **kwargs).start(tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
