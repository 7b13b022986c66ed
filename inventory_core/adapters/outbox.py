"""The transactional outbox: events are rows written with the change that caused them, and a
relay publishes them after commit. Publishing happens outside any transaction, so a slow or
failing broker never holds a database lock or fails a purchase; what fails stays unpublished
and the periodic sweep sends it later. Delivery is at least once; consumers are idempotent."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from inventory_core.adapters.models.common import OutboxMixin, utcnow
from inventory_core.domain.events import Event

log = logging.getLogger(__name__)
CLAIM_SECONDS = 30


class Publisher(Protocol):
    def publish(self, destination: str, event_type: str, body: str, delay_seconds: int) -> None:
        """Send one message; raise on failure."""


def add(session: Session, outbox_model: type[OutboxMixin], event: Event, destination: str,
        delay_seconds: int = 0) -> None:
    """Write `event` to the outbox, in the caller's transaction."""
    session.add(outbox_model(event_id=event.event_id, event_type=event.type,
                             destination=destination, body=event.to_json(),
                             delay_seconds=delay_seconds))


@dataclass
class RelayResult:
    published: int = 0
    failed: int = 0


def relay(sessions: sessionmaker, outbox_model: type[OutboxMixin], publisher: Publisher,
          event_ids: list[str] | None = None, limit: int = 100) -> RelayResult:
    """Publish unpublished outbox rows (only `event_ids` when given: the post-commit path)."""
    result = RelayResult()
    if event_ids is not None and not event_ids:
        return result
    published: list[int] = []
    failed: dict[int, str] = {}
    for row in _claim(sessions, outbox_model, event_ids, limit):
        try:
            publisher.publish(row.destination, row.event_type, row.body, row.delay_seconds)
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep the row for the sweep
            log.warning("outbox: publishing %s %s failed: %s", row.event_type, row.event_id, exc)
            failed[row.outbox_id] = str(exc)[:500]
        else:
            published.append(row.outbox_id)
    _mark(sessions, outbox_model, published, failed)
    result.published, result.failed = len(published), len(failed)
    return result


def _claim(sessions, model, event_ids, limit):
    now = utcnow()
    with sessions.begin() as session:
        query = (select(model).where(model.published_at.is_(None))
                 .where(or_(model.claimed_until.is_(None), model.claimed_until < now))
                 .order_by(model.outbox_id).limit(limit))
        if event_ids is not None:
            query = query.where(model.event_id.in_(event_ids))
        rows = session.scalars(query).all()
        claimed = []
        for row in rows:
            # Conditional claim: of two relays racing for a row, exactly one gets rowcount 1.
            won = session.execute(
                update(model).where(model.outbox_id == row.outbox_id)
                .where(or_(model.claimed_until.is_(None), model.claimed_until < now))
                .where(model.published_at.is_(None))
                .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                        attempts=model.attempts + 1)).rowcount
            if won:
                claimed.append(row)
        session.expunge_all()
    return claimed


def _mark(sessions, model, published: list[int], failed: dict[int, str]) -> None:
    """One transaction: the published rows done, the failed ones released for the sweep. (A crash
    before this leaves them claimed; the lease runs out and the sweep sends them again.)"""
    if not published and not failed:
        return
    with sessions.begin() as session:
        if published:
            session.execute(update(model).where(model.outbox_id.in_(published))
                            .values(published_at=utcnow(), last_error=None))
        for outbox_id, error in failed.items():
            session.execute(update(model).where(model.outbox_id == outbox_id)
                            .values(claimed_until=None, last_error=error))


def pending_count(session: Session, outbox_model: type[OutboxMixin]) -> int:
    return session.scalar(select(func.count()).select_from(outbox_model)
                          .where(outbox_model.published_at.is_(None))) or 0
