"""Engines and sessions, shaped for Lambda: one engine per process and URL (reused across warm
invocations), a small pool with pre-ping and recycle (RDS closes idle connections), and every
session closed by its unit of work, so no request leaks a connection.

Database passwords rotate (RDS rotates a managed master password every 7 days by default). An
engine given a Secrets Manager ARN never holds the password: each *new* connection takes the
user name and password from the secret (cached CREDENTIALS_TTL seconds), and when MySQL refuses
them (error 1045, access denied) the secret is fetched again and the connection tried once more,
and then once with the secret's AWSPENDING version if it has one: Secrets Manager's rotation sets
the new password in the database (setSecret) before it makes that version AWSCURRENT
(finishSecret). So a rotation costs a few extra connect attempts, never a failed request or a
container restart; a container that started mid-rotation corrects itself the same way."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, UpdateBase, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from inventory_core import config

_engines: dict[tuple[str, str | None], Engine] = {}
_sessionmakers: dict[tuple[str, str | None], sessionmaker] = {}
_lock = threading.Lock()
CREDENTIALS_TTL = 300.0  # seconds a fetched secret is used for new connections
ACCESS_DENIED = 1045  # MySQL ER_ACCESS_DENIED_ERROR: wrong user name or password


class _Credentials:
    """Secrets Manager credentials per secret ARN, fetched on first use and again after
    CREDENTIALS_TTL or when the database refused them. `clock` and `fetch` are replaceable."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, str, str]] = {}
        self._lock = threading.Lock()
        self.clock = time.monotonic
        self.fetch: Callable[..., tuple[str, str] | None] = _fetch_secret

    def get(self, secret_arn: str, refresh: bool = False) -> tuple[str, str]:
        with self._lock:
            cached = self._cache.get(secret_arn)
            if cached and not refresh and self.clock() < cached[0]:
                return cached[1], cached[2]
        fetched = self.fetch(secret_arn)  # outside the lock: a network call
        assert fetched is not None  # AWSCURRENT always exists
        username, password = fetched
        with self._lock:
            self._cache[secret_arn] = (self.clock() + CREDENTIALS_TTL, username, password)
        return username, password

    def pending(self, secret_arn: str) -> tuple[str, str] | None:
        """The AWSPENDING version's credentials while a rotation is under way, else None."""
        return self.fetch(secret_arn, "AWSPENDING")

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def _fetch_secret(secret_arn: str, stage: str = "AWSCURRENT") -> tuple[str, str] | None:
    import boto3  # only deployed functions need it here

    client = boto3.client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=secret_arn, VersionStage=stage)
    except client.exceptions.ResourceNotFoundException:
        if stage == "AWSCURRENT":
            raise
        return None  # no rotation under way
    secret = json.loads(value["SecretString"])
    return secret["username"], secret["password"]


credentials = _Credentials()


def _access_denied(exc: BaseException) -> bool:
    return bool(getattr(exc, "args", None)) and exc.args[0] == ACCESS_DENIED


def _use_secret(engine: Engine, secret_arn: str) -> None:
    """Every new connection of `engine` logs in with the secret's current credentials."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        cparams["user"], cparams["password"] = credentials.get(secret_arn)
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            if not _access_denied(exc):
                raise
        # Rotated since we fetched it (or mid-rotation when we did): fetch again, try once more.
        current = credentials.get(secret_arn, refresh=True)
        cparams["user"], cparams["password"] = current
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            pending = credentials.pending(secret_arn) if _access_denied(exc) else None
            if pending is None or pending == current:
                raise
        # The database has the new password, the secret's AWSCURRENT not yet.
        cparams["user"], cparams["password"] = pending
        return dialect.loaded_dbapi.connect(*cargs, **cparams)


def make_engine(url: str, secret_arn: str | None = None) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    pool = config.pool_limits()  # one connection per Lambda container, more for local threads
    engine = create_engine(
        url,
        pool_size=pool.size, max_overflow=pool.overflow, pool_timeout=pool.timeout,
        # RDS's wait_timeout is 300 s (terraform/databases.tf): recycle before it closes them.
        # Liveness checks and resets: _skip_needless_round_trips.
        pool_pre_ping=False, pool_reset_on_return=None, pool_recycle=280,
        # READ COMMITTED: a transaction that found too little stock re-reads the latest committed
        # rows (an open replenishment order, a restock) instead of its first snapshot.
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": 10, "charset": "utf8mb4"},
    )
    _skip_needless_round_trips(engine)
    if secret_arn:
        _use_secret(engine, secret_arn)
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out.
PING_AFTER_IDLE = 1.0  # seconds
_RETURNED_AT, _CLEAN = "returned_at", "clean"


def _skip_needless_round_trips(engine: Engine) -> None:
    """The pool's two safety round trips, sent only when they can matter. A request's unit of
    work otherwise pays them on every checkout and every return, around a purchase of five
    statements (docs/benchmarks.md):
    - the liveness ping (pool_pre_ping) only for a connection that was idle more than
      PING_AFTER_IDLE: one in use a moment ago is alive, and a dead one (a failover, RDS closing
      it) is replaced as pre-ping would (DisconnectionError: the pool reconnects and retries);
    - the ROLLBACK on return only when the connection's last act was not a COMMIT or ROLLBACK
      through SQLAlchemy (a Session, a Connection): after one there is no transaction to end. A
      connection closed with its transaction open was rolled back by SQLAlchemy already
      (transaction_was_reset), and one used at the DBAPI level is rolled back as before."""
    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, record):
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        record.info[_CLEAN] = False  # until SQLAlchemy commits or rolls back on it
        if time.monotonic() - record.info.get(_RETURNED_AT, 0.0) > PING_AFTER_IDLE:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as exc:
                raise DisconnectionError(f"idle connection is gone: {exc}") from exc

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(connection):
        if not connection.invalidated:  # else its DBAPI connection is discarded, not returned
            connection.connection.info[_CLEAN] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _began(connection, *_args):
        connection.connection.info[_CLEAN] = False

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection, record, state):
        if not (state.transaction_was_reset or record.info.get(_CLEAN)):
            dbapi_connection.rollback()

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()


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


def get_engine(url: str, secret_arn: str | None = None) -> Engine:
    """The process-wide engine for `url` (and, with `secret_arn`, credentials from that secret at
    each connect), created on first use."""
    key = (url, secret_arn)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(url, secret_arn)
        return engine


def session_factory(url: str, secret_arn: str | None = None) -> sessionmaker:
    """The process-wide sessionmaker for `url`, made once: making one defines a Session subclass,
    which costs more than many a transaction (a consumer asks for it once per message)."""
    key = (url, secret_arn)
    found = _sessionmakers.get(key)
    if found is None or found.kw["bind"] is not _engines.get(key):
        found = _sessionmakers[key] = sessionmaker(bind=get_engine(url, secret_arn),
                                                   expire_on_commit=False)
    return found


def resolve_url(url: str, secret_arn: str | None) -> str:
    """`url`, or with `secret_arn` the same URL with the user name and password of that Secrets
    Manager secret as of now: for one-off tools (migrations, `deploy.tasks`, the CLI). The
    services' engines take the credentials at each connect instead (session_factory)."""
    if not secret_arn:
        return url
    username, password = credentials.get(secret_arn, refresh=True)
    return make_url(url).set(username=username, password=password).render_as_string(
        hide_password=False)


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
        _sessionmakers.clear()


def rows_matched(session: Session, statement: UpdateBase) -> int:
    """How many rows an UPDATE or DELETE matched. Session.execute is typed as returning a plain
    Result; for these statements it is a CursorResult, which has the rowcount."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount
