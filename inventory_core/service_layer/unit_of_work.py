"""A unit of work around each transaction (cosmicpython): `with uow: ...; uow.commit()`.

Events emitted inside go to the outbox in the same transaction (one INSERT, at commit); after a
successful commit they are handed to the publisher at once (when one is set; or, `held`, after a
consumer's batch), and the outbox sweep covers any failure."""
from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from inventory_core import correlation
from inventory_core.adapters import outbox
from inventory_core.adapters.models.common import OutboxMixin
from inventory_core.domain.events import Event
from inventory_core.topology import TOPOLOGY

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
# MySQL/MariaDB deadlock and lock-wait timeout: the transaction was rolled back, retrying is safe.
TRANSIENT_MYSQL_ERRORS = {1205, 1213}
ATTEMPTS = 5  # of a transaction that keeps being chosen as the victim


class UnitOfWork:
    """One transaction. Its `session` (the ORM) and its `connection` (Core statements) are made
    on first use: a purchase runs Core statements only (adapters.sales), and a Session's own
    bookkeeping (begin, flush, commit, close) costs about as much Python as two of its
    statements, on the path where the item's other buyers wait (docs/benchmarks.md). Asked
    after the connection, the session joins the connection's transaction; asked first, the
    connection is the session's."""

    def __init__(self, sessions: sessionmaker, outbox_model: type[OutboxMixin],
                 publisher: outbox.Publisher | None = None,
                 policy: outbox.RetryPolicy = outbox.DEFAULT_POLICY,
                 publish_budget_seconds: float | None = None):
        self.sessions = sessions
        self.outbox_model = outbox_model
        self.publisher = publisher
        self.policy = policy
        # The post-commit publish's time budget (a request path: a buyer is waiting); what does
        # not fit waits for the sweep. None: no limit beyond the publisher's own timeouts.
        self.publish_budget_seconds = publish_budget_seconds
        # Set to a list (a consumer's batch): the rows each commit writes are added to it, to be
        # published with the batch's others (`publish`), not each right after its own commit.
        self.held: list[outbox.Claimed] | None = None

    def __enter__(self) -> UnitOfWork:
        self._session: Session | None = None
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None  # begun here, not by the session
        self._checked_out = False  # the connection is ours to give back to the pool
        self._events: list[tuple[Event, str, int]] = []
        return self

    def __exit__(self, *exc_info) -> None:
        # Closing rolls back whatever was not committed and returns the connection to the pool.
        self._end_transaction()
        if self._session is not None:
            self._session.close()

    def _end_transaction(self) -> None:
        """Let go of the transaction's connection (rolled back unless committed): a checked-out
        one goes back to the pool, so nothing done after a commit (its events' publish, which
        marks them on a connection of its own) holds two. A next transaction in the same `with`
        starts afresh. A session joined to it ends with it."""
        if self._transaction is not None:
            if self._session is not None:
                self._session.close()
                self._session = None
            if self._transaction.is_active:
                self._transaction.rollback()
            if self._checked_out and self._connection is not None:
                self._connection.close()
        self._connection, self._transaction, self._checked_out = None, None, False

    @property
    def session(self) -> Session:
        if self._session is None:
            # Bound to a connection in a transaction, the session joins that transaction: its
            # commit flushes, and the connection's commit (in `commit`) ends it.
            self._session = (self.sessions() if self._connection is None
                             else self.sessions(bind=self._connection))
        return self._session

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            if self._session is not None:
                self._connection = self._session.connection()
            else:
                # The sessions' bind: an engine (a connection from its pool, given back at the
                # end), or a connection a consumer's batch shares (databases.one_connection).
                bind = self.sessions.kw["bind"]
                self._checked_out = isinstance(bind, Engine)
                self._connection = bind.connect() if self._checked_out else bind
                # Begun now, as a session would: adapters.driver runs statements on the DBAPI
                # cursor, which would not autobegin this Connection's transaction (its commit
                # would then end nothing).
                self._transaction = self._connection.begin()
        return self._connection

    def emit(self, event: Event, delay_seconds: int = 0) -> None:
        """Write `event` to the outbox (at commit, in the same transaction), bound where the
        topology sends its type. An event made without a correlation id joins the flow being
        handled (inventory_core.correlation)."""
        if event.correlation_id is None and correlation.current():
            event = dataclasses.replace(event, correlation_id=correlation.current())
        self._events.append((event, TOPOLOGY.event_types[event.type], delay_seconds))

    def commit(self) -> None:
        # The rows are written claimed when this process publishes them after commit: no claim
        # transaction then, and the sweep leaves them alone while the claim holds.
        rows = (outbox.write(self.connection, self.outbox_model, self._events,
                             claim=self.publisher is not None) if self._events else [])
        self._events = []
        if self._session is not None:
            self._session.commit()
        if self._transaction is not None:
            self._transaction.commit()
        self._end_transaction()
        if self.publisher is None or not rows:
            return
        if self.held is not None:
            self.held.extend(rows)
        else:
            self.publish(rows)

    def publish(self, rows: list[outbox.Claimed]) -> None:
        """Hand committed rows written claimed to the publisher; never raises (the committed
        change stands, and the sweep sends what this could not)."""
        if self.publisher is None or not rows:
            return
        try:
            if self.publish_budget_seconds is not None:
                # Clients are made before the clock starts: the budget is for the broker.
                warm = getattr(self.publisher, "warm", None)
                if warm is not None:
                    warm()
            outbox.publish_claimed(self.sessions, self.outbox_model, self.publisher, rows,
                                   policy=self.policy, budget_seconds=self.publish_budget_seconds)
        except Exception:  # the change is committed; never report it failed
            # An error here (the database busy while marking rows) must not reach the caller:
            # it would answer "failed" for a committed sale, and a retry would sell again. The
            # rows stay unpublished and the outbox sweep sends them once their claim lapses.
            log.warning("post-commit publish failed; the outbox sweep will publish %s",
                        [r.event_id for r in rows], exc_info=True)


def is_transient(exc: BaseException) -> bool:
    orig = exc.orig if isinstance(exc, OperationalError) else None
    return orig is not None and bool(orig.args) and orig.args[0] in TRANSIENT_MYSQL_ERRORS


def retry_transient(func: Callable[P, R]) -> Callable[P, R]:
    """Run a whole transaction again when the database chose it as a deadlock victim."""
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not is_transient(exc):
                    raise
                log.info("transient database error, retrying %s: %s", func.__name__, exc.orig)
                time.sleep(0.01 * 2 ** attempt)
        raise AssertionError("unreachable: the last attempt returned or raised")
    return wrapper
