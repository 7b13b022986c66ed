"""What every benchmark needs: fresh MariaDB databases and timing helpers. The gunicorn server and
free_port are local_stack.gunicorn_runner's (shared with the reliability tests)."""
from __future__ import annotations

import os
import statistics
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
MYSQL_SERVER_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
for _name, _value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                      "AWS_DEFAULT_REGION": "ap-northeast-2"}.items():
    os.environ.setdefault(_name, _value)  # fake credentials: moto only, never AWS


@contextmanager
def mysql_database(database: str):
    """A fresh, migrated and seeded database (`shop` or `factory`); dropped afterwards."""
    from inventory_core.adapters.db import dispose_all
    from inventory_core.adapters.migrate import prepare
    name = f"bench_{database}_{uuid.uuid4().hex[:10]}"
    server = create_engine(MYSQL_SERVER_URL)
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = make_url(MYSQL_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    try:
        prepare(database, url)
        yield url
    finally:
        dispose_all()
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


def pymysql_connect(url: str):
    import pymysql
    u = make_url(url)
    return pymysql.connect(host=u.host, port=u.port or 3306, user=u.username,
                           password=u.password or "", database=u.database, autocommit=True,
                           charset="utf8mb4")


def mariadb_version() -> str:
    server = create_engine(MYSQL_SERVER_URL)
    try:
        with server.connect() as conn:
            return conn.execute(text("SELECT VERSION()")).scalar()
    finally:
        server.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

