"""What every benchmark needs: fresh MariaDB databases and timing helpers. The gunicorn server and
free_port are local_stack.gunicorn_runner's (shared with the reliability tests)."""
from __future__ import annotations

import os
import statistics
import sys
import time
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


def server_cpu_seconds() -> float | None:
    """CPU time (user + system) the MariaDB server on this machine has used so far; None when
    none runs here (a remote server) or its /proc entry is not readable."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() not in ("mariadbd", "mysqld"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return None


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



# --- progress: what the running part is doing and how far it has got ----------------------------

_STARTED = time.monotonic()
_part: dict = {"name": "bench", "started": _STARTED, "last": 0.0}
PROGRESS_EVERY = 2.0  # seconds between two counted lines of one part (each phase still says so)


def _say(message: str) -> None:
    elapsed = time.monotonic() - _part["started"]
    print(f"[bench {time.strftime('%H:%M:%S')} +{elapsed:5.1f}s] {_part['name']}: {message}",
          file=sys.stderr, flush=True)
    _part["last"] = time.monotonic()


@contextmanager
def part(name: str, what: str):
    """One part of the bench: says what it measures when it starts and how long it took; the
    elapsed time on its progress lines counts from here."""
    _part.update(name=name, started=time.monotonic(), last=0.0)
    _say(what)
    try:
        yield
    finally:
        _say("done")
        _part.update(name="bench", started=_STARTED)


def progress(what: str, done: int | None = None, total: int | None = None,
             unit: str = "") -> None:
    """A progress line on stderr (unbuffered): `what`, and `done/total unit` when counted.

    Counted lines come at most every PROGRESS_EVERY seconds (plus the first and last of each
    `what`), so a part may call this once per message or request: between two lines it costs one
    clock read. Call it between timed stretches where there are such (it writes to stderr)."""
    if done is None or total is None:
        _say(what)
        return
    if (what != _part.get("counting") or done == total
            or time.monotonic() - _part["last"] >= PROGRESS_EVERY):
        _part["counting"] = what
        _say(f"{what} {done}/{total}{' ' + unit if unit else ''}")
