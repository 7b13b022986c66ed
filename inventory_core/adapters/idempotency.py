"""Exactly-once effects on at-least-once delivery: a consumer records the id of every event it
applies in the same transaction as the effect, and a redelivered duplicate finds it there."""
from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from inventory_core.adapters import driver
from inventory_core.adapters.models.common import ProcessedEventMixin, utcnow


def first_delivery(connection: Connection, model: type[ProcessedEventMixin], consumer: str,
                   event_id: str) -> bool:
    """Record, in the caller's transaction, that `consumer` applies `event_id`. False when it was
    applied before, or a concurrent delivery of it just was: then the caller must change nothing
    and end its transaction.

    One INSERT, no SELECT first: duplicates are rare, and the primary key refuses one whether it
    was committed long ago or is being applied right now (this INSERT then waits for the other
    transaction and fails once it commits; it succeeds if the other rolls back). Executed on the
    connection's DBAPI cursor (adapters.driver), outside the ORM's unit of work:
    nothing else needs the row, and every message a consumer handles runs it."""
    try:
        driver.run(connection, driver.insert_of(model, _COLUMNS), {
            "consumer": consumer, "event_id": event_id, "processed_at": utcnow()})
    except IntegrityError:
        return False
    return True


_COLUMNS = ("consumer", "event_id", "processed_at")
