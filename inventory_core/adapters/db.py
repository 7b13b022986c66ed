"""Engines and sessions, shaped for Lambda: one engine per process and URL (reused across warm
invocations), a small pool with pre-ping and recycle (RDS closes idle connections), and every
session closed by its unit of work, so no request leaks a connection."""
from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, UpdateBase, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=280,
        # READ COMMITTED: a transaction that found too little stock re-reads the latest committed
        # rows (an open replenishment order, a restock) instead of its first snapshot.
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": 10, "charset": "utf8mb4"},
    )


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy drive transactions, so BEGIN IMMEDIATE below is what starts them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Take the write lock up front: a deferred transaction that reads, then writes, can fail
        # at once with "database is locked" when another writer got in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def get_engine(url: str) -> Engine:
    """The process-wide engine for `url`, created on first use."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def session_factory(url: str) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def resolve_url(url: str, secret_arn: str | None) -> str:
    """`url`, or with `secret_arn` the same URL with the user name and password of that Secrets
    Manager secret (RDS keeps its managed master password there), fetched once per process."""
    return _url_with_secret(url, secret_arn) if secret_arn else url


@functools.lru_cache(maxsize=8)
def _url_with_secret(url: str, secret_arn: str) -> str:
    import boto3  # only deployed functions need it here

    secret = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId=secret_arn)["SecretString"])
    return (make_url(url).set(username=secret["username"], password=secret["password"])
            .render_as_string(hide_password=False))


def tls_cipher(url: str) -> str | None:
    """The TLS cipher of a connection to `url`'s MySQL server, None when it is not encrypted (or
    not MySQL): what operators check after turning on TLS (`deploy.tasks` reports it)."""
    engine = get_engine(url)
    if engine.dialect.name != "mysql":
        return None
    with engine.connect() as connection:
        row = connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_cipher'").first()
    return (row[1] or None) if row else None


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def rows_matched(session: Session, statement: UpdateBase) -> int:
    """How many rows an UPDATE or DELETE matched. Session.execute is typed as returning a plain
    Result; for these statements it is a CursorResult, which has the rowcount."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount
