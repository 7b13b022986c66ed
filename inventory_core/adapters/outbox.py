"""The transactional outbox: events are rows written with the change that caused them, and a
relay publishes them after commit. Publishing happens outside any transaction, so a slow or
failing broker never holds a database lock or fails a purchase; what fails stays unpublished
and the periodic sweep sends it later. Delivery is at least once; consumers are idempotent.

The process that commits rows publishes them itself (`write`, `publish_claimed`): they are
written already claimed, so that path needs no claim transaction and no read, and marks the few
rows it sent together. The sweep (`relay`) claims what is left, row by row.

What keeps the outbox moving when some rows cannot be published (a deleted topic, a KMS or IAM
mistake, a message SNS refuses):
- a sweep marks each row as soon as its publish returns, in a transaction of its own, so a sweep
  killed mid-way (a Lambda timeout) re-sends at most the row it was publishing;
- a failed row waits before its next attempt (`next_attempt_at`, doubling), and after
  `RetryPolicy.max_attempts` it is parked (`parked_at`) with its last error: no relay tries it
  again until an operator re-publishes it (`republish`);
- a relay is given a deadline and starts a publish only while the publisher's worst case still
  fits before it; rows it claimed and did not reach are released at once;
- a sweep stops trying a destination that failed three times in a row (`Breaker`), so rows for
  a deleted topic cost it three calls, not one per row."""
from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from sqlalchemy import (
    Connection,
    Update,
    bindparam,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from inventory_core.adapters import driver
from inventory_core.adapters.models.common import OutboxMixin, utcnow
from inventory_core.domain.events import Event

log = logging.getLogger(__name__)
CLAIM_SECONDS = 30
MAX_BACKOFF_SECONDS = 900


class Publisher(Protocol):
    def publish(self, destination: str, event_type: str, body: str, delay_seconds: int) -> None:
        """Send one message; raise on failure."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a row is tried and how long it waits in between (config OUTBOX_MAX_ATTEMPTS,
    OUTBOX_BACKOFF_SECONDS)."""

    max_attempts: int = 10
    backoff_seconds: int = 5

    def delay(self, attempts: int) -> int:
        """Seconds to wait after the `attempts`-th failed attempt. The first failure waits for
        nothing: it is usually the post-commit publish, and the next sweep should take it."""
        if attempts <= 1 or self.backoff_seconds <= 0:
            return 0
        return min(self.backoff_seconds * 2 ** (attempts - 2), MAX_BACKOFF_SECONDS)


DEFAULT_POLICY = RetryPolicy()


class Breaker:
    """One sweep's view of its destinations: one that failed `threshold` times in a row (a
    deleted topic fails every row) is not tried again in that sweep. Its other rows are left
    as they are, unclaimed and not counted, for the next sweep; the rows behind them go out."""

    def __init__(self, threshold: int = 3):
        self.threshold = threshold
        self._failures: dict[str, int] = {}

    @property
    def broken(self) -> set[str]:
        return {d for d, n in self._failures.items() if n >= self.threshold}

    def allows(self, destination: str) -> bool:
        return self._failures.get(destination, 0) < self.threshold

    def record(self, destination: str, published: bool) -> None:
        self._failures[destination] = 0 if published else self._failures.get(destination, 0) + 1


def add(session: Session, outbox_model: type[OutboxMixin], event: Event, destination: str,
        delay_seconds: int = 0) -> None:
    """Write `event` to the outbox, in the caller's transaction."""
    session.add(outbox_model(event_id=event.event_id, event_type=event.type,
                             destination=destination, body=event.to_json(),
                             delay_seconds=delay_seconds))


@dataclass(frozen=True)
class Claimed:
    """A row written already claimed by the process that wrote it (`write`): it publishes the row
    after commit from this copy, with no claim transaction and no read. If it dies first, the
    claim lapses after CLAIM_SECONDS and the sweep sends the row."""
    event_id: str
    event_type: str
    destination: str
    body: str
    delay_seconds: int = 0
    attempts: int = 1  # the claim counts as an attempt, as a relay's claim does


def write(connection: Connection, outbox_model: type[OutboxMixin],
          events: list[tuple[Event, str, int]], claim: bool) -> list[Claimed]:
    """Write (event, destination, delay_seconds) rows in the caller's transaction, in one
    statement, just before it commits. `claim`: the caller publishes them after commit (their
    lease starts now, at the commit); the rows as written."""
    now = utcnow()
    rows = [Claimed(event.event_id, event.type, destination, event.to_json(), delay)
            for event, destination, delay in events]
    values = [{"event_id": r.event_id, "event_type": r.event_type, "destination": r.destination,
               "body": r.body, "delay_seconds": r.delay_seconds, "created_at": now,
               "claimed_until": now + timedelta(seconds=CLAIM_SECONDS) if claim else None,
               "attempts": r.attempts if claim else 0} for r in rows]
    if len(values) == 1:  # the usual: on the DBAPI cursor (adapters.driver), as a sale's rows
        driver.run(connection, driver.insert_of(outbox_model, _WRITTEN), values[0])
    elif values:
        connection.execute(driver.insert_of(outbox_model, _WRITTEN), values)
    return rows


_WRITTEN = ("event_id", "event_type", "destination", "body", "delay_seconds", "created_at",
            "claimed_until", "attempts")


def publish_claimed(sessions: sessionmaker, outbox_model: type[OutboxMixin], publisher: Publisher,
                    rows: list[Claimed], policy: RetryPolicy = DEFAULT_POLICY,
                    budget_seconds: float | None = None) -> RelayResult:
    """The post-commit path: publish rows written claimed (`write`), then mark those published
    together, in one transaction (a relay killed before it re-sends at most these few rows, once
    their claim lapses; consumers are idempotent). A failed row is released with its error for
    the sweep; rows the budget (counted from now) leaves untried are released as no attempt."""
    result = RelayResult(selected=len(rows), claimed=len(rows))
    deadline = time.monotonic() + budget_seconds if budget_seconds is not None else None
    worst_case = float(getattr(publisher, "publish_timeout_seconds", 0.0))
    published: list[str] = []
    untried: list[str] = []
    for index, row in enumerate(rows):
        if deadline is not None and time.monotonic() + worst_case > deadline:
            untried += [r.event_id for r in rows[index:]]
            result.out_of_time = True
            break
        sent = _publish_one(publisher, sessions, outbox_model, row,
                            outbox_model.event_id == row.event_id, policy)
        if sent is Sent.PUBLISHED:
            published.append(row.event_id)
        else:
            result.failed += 1
            result.parked += sent is Sent.PARKED
    if published:
        _mark_published_by_event_id(sessions, outbox_model, published)
        result.published = len(published)
    if untried:
        _release(sessions, outbox_model, outbox_model.event_id.in_(untried))
    return result


@dataclass
class RelayResult:
    published: int = 0
    failed: int = 0
    parked: int = 0  # of the failed, those that used their last attempt
    selected: int = 0  # rows this pass found (some may have been claimed by another relay)
    claimed: int = 0
    last_id: int = 0  # the highest outbox id this pass found (the sweep's cursor)
    out_of_time: bool = False  # stopped at the deadline with claimed rows left (released)
    skipped: int = 0  # claimed, then released untried: their destination's breaker is open
    failed_ids: list[int] = field(default_factory=list)


def relay(sessions: sessionmaker, outbox_model: type[OutboxMixin], publisher: Publisher,
          event_ids: list[str] | None = None, limit: int = 100,
          policy: RetryPolicy = DEFAULT_POLICY, deadline: float | None = None,
          retries: bool = False, after_id: int = 0, due_by: datetime | None = None,
          skip: Collection[int] = (), breaker: Breaker | None = None,
          budget_seconds: float | None = None) -> RelayResult:
    """Publish up to `limit` unpublished, unparked outbox rows, oldest first.

    `event_ids`: only these (the post-commit path). Otherwise (the sweep) rows after `after_id`
    that never failed, or with `retries`, rows that failed before and are due by `due_by` (now
    by default), but not those in `skip` nor for a destination the `breaker` gave up on in this
    sweep. `deadline` (time.monotonic()): start no publish that could end after it; or
    `budget_seconds`: the same, counted from when the rows are claimed (the post-commit path:
    the budget is for the broker, the database work is the request's own)."""
    result = RelayResult()
    if event_ids is not None and not event_ids:
        return result
    broken = breaker.broken if breaker is not None else set()
    rows, result.selected, result.last_id = _claim(sessions, outbox_model, event_ids, limit,
                                                   retries, after_id, due_by or utcnow(), skip,
                                                   broken)
    result.claimed = len(rows)
    if budget_seconds is not None:
        deadline = time.monotonic() + budget_seconds
    worst_case = float(getattr(publisher, "publish_timeout_seconds", 0.0))
    untried: list[int] = []
    for index, row in enumerate(rows):
        if deadline is not None and time.monotonic() + worst_case > deadline:
            untried += [r.outbox_id for r in rows[index:]]
            result.out_of_time = True
            break
        if breaker is not None and not breaker.allows(row.destination):
            untried.append(row.outbox_id)
            result.skipped += 1
            continue
        sent = _publish_one(publisher, sessions, outbox_model, row,
                            outbox_model.outbox_id == row.outbox_id, policy)
        if sent is Sent.PUBLISHED:
            _mark_published(sessions, outbox_model, outbox_model.outbox_id == row.outbox_id)
            result.published += 1
        else:
            result.failed += 1
            result.parked += sent is Sent.PARKED
            result.failed_ids.append(row.outbox_id)
        if breaker is not None:
            breaker.record(row.destination, published=sent is Sent.PUBLISHED)
    if untried:
        _release(sessions, outbox_model, outbox_model.outbox_id.in_(untried))
    return result


class Sent(Enum):
    """What became of one claimed row's publish."""
    PUBLISHED = "published"  # the broker took it
    FAILED = "failed"  # kept for the sweep, its failure counted on the row
    PARKED = "parked"  # that failure was its last attempt: an operator's now


def _publish_one(publisher, sessions, outbox_model, row, this_row, policy) -> Sent:
    """Publish one claimed row; on a failure, count it on the row (`this_row` selects it) and
    log it."""
    try:
        publisher.publish(row.destination, row.event_type, row.body, row.delay_seconds)
    except Exception as exc:  # noqa: BLE001 - any broker failure: keep the row for the sweep
        error = f"{type(exc).__name__}: {exc}"[:500]
        parked = _mark_failed(sessions, outbox_model, this_row, row.attempts, error, policy)
        log.warning("outbox: publishing %s %s failed (attempt %d%s): %s", row.event_type,
                    row.event_id, row.attempts, ", parked" if parked else "", error)
        return Sent.PARKED if parked else Sent.FAILED
    return Sent.PUBLISHED


def _claim(sessions, model, event_ids, limit, retries, after_id, due_by, skip, broken):
    """Lease up to `limit` rows to this relay; each claim counts as an attempt. The rows won, how
    many were found, and the highest id found."""
    now = utcnow()
    with sessions.begin() as session:
        query = (select(model).where(model.published_at.is_(None), model.parked_at.is_(None))
                 .where(or_(model.claimed_until.is_(None), model.claimed_until < now))
                 .order_by(model.outbox_id).limit(limit))
        if broken:
            query = query.where(model.destination.not_in(sorted(broken)))
        if event_ids is not None:
            query = query.where(model.event_id.in_(event_ids))
        elif retries:
            query = query.where(model.outbox_id > after_id, model.last_error.is_not(None),
                                or_(model.next_attempt_at.is_(None),
                                    model.next_attempt_at <= due_by))
            if skip:
                query = query.where(model.outbox_id.not_in(list(skip)))
        else:
            query = query.where(model.outbox_id > after_id, model.last_error.is_(None))
        rows = session.scalars(query).all()
        claimed = []
        for row in rows:
            # Conditional claim: of two relays racing for a row, exactly one gets rowcount 1.
            won = session.execute(
                update(model).where(model.outbox_id == row.outbox_id)
                .where(or_(model.claimed_until.is_(None), model.claimed_until < now))
                .where(model.published_at.is_(None), model.parked_at.is_(None))
                .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                        attempts=model.attempts + 1)
                .execution_options(synchronize_session=False)).rowcount
            if won:
                row.attempts += 1  # as now stored (the update left the loaded object alone)
                claimed.append(row)
        session.expunge_all()
    return claimed, len(rows), max((row.outbox_id for row in rows), default=after_id)


def _mark_published(sessions, model, which) -> None:
    with sessions.begin() as session:  # a plain statement: nothing to synchronise in a new session
        session.connection().execute(update(model).where(which).values(
            published_at=utcnow(), claimed_until=None, last_error=None, next_attempt_at=None))


def _mark_published_by_event_id(sessions, model, event_ids: list[str]) -> None:
    """The post-commit path's mark, in one transaction: every purchase and every consumer batch
    runs it, so on the DBAPI cursor (adapters.driver), with one statement built once per table
    (`_MARK_BATCH` ids at a time; a shorter list repeats its first id)."""
    with sessions.begin() as session:
        connection, now = session.connection(), utcnow()
        for start in range(0, len(event_ids), _MARK_BATCH):
            chunk = event_ids[start:start + _MARK_BATCH]
            chunk += chunk[:1] * (_MARK_BATCH - len(chunk))
            driver.run(connection, _mark_statement(model),
                       {"at": now, **{f"event_id_{n}": e for n, e in enumerate(chunk)}})


_MARK_BATCH = 10  # a consumer's batch of messages, each its usual one event
_MARKS: dict[type, Update] = {}


def _mark_statement(model) -> Update:
    found = _MARKS.get(model)
    if found is None:
        found = _MARKS[model] = (
            update(model).where(model.event_id.in_(
                [bindparam(f"event_id_{n}") for n in range(_MARK_BATCH)]))
            # NULL written in the SQL: nothing to bind for the columns a publish clears.
            .values(published_at=bindparam("at"), claimed_until=null(), last_error=null(),
                    next_attempt_at=null()))
    return found


def _mark_failed(sessions, model, which, attempts: int, error: str, policy: RetryPolicy) -> bool:
    """Release the row with its error and when to try again, or park it. Whether it parked."""
    now = utcnow()
    parked = attempts >= policy.max_attempts
    with sessions.begin() as session:
        session.execute(update(model).where(which)
                        .where(model.published_at.is_(None))
                        .values(claimed_until=None, last_error=error,
                                next_attempt_at=now + timedelta(seconds=policy.delay(attempts)),
                                parked_at=now if parked else None)
                        .execution_options(synchronize_session=False))
    return parked


def _release(sessions, model, which) -> None:
    """Give back rows claimed and never tried (out of time): that was no attempt."""
    with sessions.begin() as session:
        session.execute(update(model).where(which)
                        .where(model.published_at.is_(None))
                        .values(claimed_until=None, attempts=model.attempts - 1)
                        .execution_options(synchronize_session=False))


# --- what operators see and do ------------------------------------------------------------------

def pending_count(session: Session, outbox_model: type[OutboxMixin]) -> int:
    """Rows still to be published by a relay (parked rows are not: they wait for an operator)."""
    return session.scalar(select(func.count()).select_from(outbox_model)
                          .where(outbox_model.published_at.is_(None),
                                 outbox_model.parked_at.is_(None))) or 0


def parked_count(session: Session, outbox_model: type[OutboxMixin]) -> int:
    return session.scalar(select(func.count()).select_from(outbox_model)
                          .where(outbox_model.published_at.is_(None),
                                 outbox_model.parked_at.is_not(None))) or 0


def parked_rows(session: Session, outbox_model: type[OutboxMixin],
                limit: int = 100) -> list[OutboxMixin]:
    """Parked rows, oldest first."""
    return list(session.scalars(
        select(outbox_model).where(outbox_model.published_at.is_(None),
                                   outbox_model.parked_at.is_not(None))
        .order_by(outbox_model.outbox_id).limit(limit)))


def unpark(session: Session, outbox_model: type[OutboxMixin],
           outbox_ids: Iterable[int] | None = None) -> list[int]:
    """Give parked rows (these, or all) a fresh set of attempts, due at once. Their ids."""
    query = select(outbox_model.outbox_id).where(outbox_model.published_at.is_(None),
                                                 outbox_model.parked_at.is_not(None))
    if outbox_ids is not None:
        query = query.where(outbox_model.outbox_id.in_(list(outbox_ids)))
    ids = list(session.scalars(query.order_by(outbox_model.outbox_id)))
    if ids:
        session.execute(update(outbox_model).where(outbox_model.outbox_id.in_(ids))
                        .where(outbox_model.parked_at.is_not(None))
                        .values(parked_at=None, attempts=0, next_attempt_at=None,
                                claimed_until=None))
    return ids
