"""Parked outbox rows: events a relay gave up on after OUTBOX_MAX_ATTEMPTS (a deleted topic, a KMS
or IAM mistake, a message SNS refuses). They wait, with their last error, until an operator has
fixed the cause and re-publishes them (admin API, dashboard, `flask ... outbox republish`).

Re-publishing gives a row a fresh set of attempts and publishes it at once; if it fails again
it stays with the sweep, which retries it with backoff and parks it again after as many
attempts. Works on either service's outbox: the unit of work says which."""
from __future__ import annotations

from sqlalchemy import select

from inventory_core.adapters import outbox
from inventory_core.domain.errors import Conflict, NotFound
from inventory_core.service_layer import resources
from inventory_core.service_layer.unit_of_work import UnitOfWork


class OutboxRowNotFound(NotFound):
    pass


class NotParked(Conflict):
    pass


def counts(uow: UnitOfWork) -> dict[str, int]:
    """Rows the sweep still owes (pending) and rows waiting for an operator (parked)."""
    with uow:
        return {"pending": outbox.pending_count(uow.session, uow.outbox_model),
                "parked": outbox.parked_count(uow.session, uow.outbox_model)}


def list_parked(uow: UnitOfWork, limit: int = 100) -> list[dict]:
    with uow:
        return resources.OUTBOX_ROWS.dump(outbox.parked_rows(uow.session, uow.outbox_model,
                                                              limit))


def republish(uow: UnitOfWork, publisher: outbox.Publisher, outbox_id: int) -> dict:
    """Re-publish one parked row now; the row as it is afterwards (published, or failed again
    and back with the sweep)."""
    with uow:
        row = uow.session.get(uow.outbox_model, outbox_id)
        if row is None:
            raise OutboxRowNotFound(f"Outbox row {outbox_id} does not exist.")
        if row.published_at is not None or row.parked_at is None:
            state = "was published" if row.published_at is not None else "is not parked"
            raise NotParked(f"Outbox row {outbox_id} {state}: nothing to re-publish.")
        outbox.unpark(uow.session, uow.outbox_model, [outbox_id])
        uow.commit()
    return _publish_now(uow, publisher, [outbox_id])[0]


def republish_all(uow: UnitOfWork, publisher: outbox.Publisher) -> dict:
    """Re-publish every parked row now. How many were re-published, and those rows afterwards."""
    with uow:
        ids = outbox.unpark(uow.session, uow.outbox_model)
        uow.commit()
    rows = _publish_now(uow, publisher, ids)
    return {"republished": len(rows), "published": sum(r["published_at"] is not None for r in rows),
            "outbox": rows}


def _publish_now(uow: UnitOfWork, publisher: outbox.Publisher, outbox_ids: list[int]) -> list[dict]:
    if not outbox_ids:
        return []
    model = uow.outbox_model
    with uow:
        event_ids = list(uow.session.scalars(select(model.event_id)
                                             .where(model.outbox_id.in_(outbox_ids))))
    outbox.relay(uow.sessions, model, publisher, event_ids=event_ids, limit=len(event_ids),
                 policy=uow.policy)
    with uow:
        return resources.OUTBOX_ROWS.dump(uow.session.scalars(
            select(model).where(model.outbox_id.in_(outbox_ids)).order_by(model.outbox_id)))
