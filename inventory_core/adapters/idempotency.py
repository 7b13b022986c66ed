"""Exactly-once effects on at-least-once delivery: a consumer records the id of every event it
applies in the same transaction as the effect, and a redelivered duplicate finds it there."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory_core.adapters.models.common import ProcessedEventMixin


def first_delivery(session: Session, model: type[ProcessedEventMixin], consumer: str,
                   event_id: str) -> bool:
    """Record, in the caller's transaction, that `consumer` applies `event_id`. False when it was
    applied before, or a concurrent delivery of it just was: then the caller must change nothing
    (and end its transaction: after a clash the session is unusable)."""
    if session.get(model, (consumer, event_id)) is not None:
        return False
    session.add(model(consumer=consumer, event_id=event_id))
    try:
        session.flush()  # a concurrent duplicate waits here, then fails on the primary key
    except IntegrityError:
        return False
    return True
