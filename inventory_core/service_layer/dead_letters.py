"""Dead letters: messages SQS gave up on (after maxReceiveCount) or a consumer dead-lettered at
once as permanently failed. Each is recorded in the shop database, once per (dlq, message id),
so it can be listed and redriven after its DLQ copy is gone (the dead-letter consumer's success
deletes it from the DLQ, as Lambda does).

Redrive sends the stored body back to the source queue (moto has no StartMessageMoveTask, and a
database row outlives the 14-day DLQ retention anyway). Consumers are idempotent on the event
id, so a redrive that is repeated after a crash applies nothing twice."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from inventory_core.adapters import metrics
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import DeadLetter
from inventory_core.domain.errors import Conflict, NotFound
from inventory_core.service_layer import resources
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient
from inventory_core.topology import TOPOLOGY, source_queue_of

STATUSES = ("dead", "redriven")
# Attributes added by the dead-lettering itself: not sent back on redrive.
FAILURE_ATTRIBUTES = ("failure_reason", "receive_count")


class QueueSender(Protocol):
    def queue_url(self, physical_name: str) -> str: ...
    def send(self, queue_url: str, body: str, attributes: dict | None = None) -> str: ...


class DeadLetterNotFound(NotFound):
    def __init__(self, dead_letter_id: object) -> None:
        super().__init__(f"Dead letter {dead_letter_id} does not exist.")
        self.dead_letter_id = dead_letter_id


class AlreadyRedriven(Conflict):
    pass


# The factory's private lead-time queue: the shop (public, its role least-privileged) may not send
# to it (terraform/iam.tf, local.services.shop.sends_to). Its dead letters are redriven with the
# factory's role (docs/deploy.md, "Dead letters").
NOT_REDRIVEN_BY_SHOP = ("production",)


class NotRedrivable(AlreadyRedriven):
    """The shop may not send to this dead letter's source queue (answered like 409)."""


def _redrivable(source_queue: str) -> bool:
    return not any(source_queue.endswith("-" + TOPOLOGY.queue(key).name)
                   for key in NOT_REDRIVEN_BY_SHOP)


@dataclass(frozen=True)
class Recorded:
    dead_letter_id: int
    created: bool  # False: the same DLQ message was seen before (a redelivery of it)


def _envelope_fields(body: str) -> tuple[str | None, str | None]:
    """event_id and type when the body looks like one of our envelopes; never raises."""
    try:
        raw = json.loads(body)
    except (TypeError, ValueError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    event_id, event_type = raw.get("event_id"), raw.get("type")
    event_id = event_id if isinstance(event_id, str) and len(event_id) <= 36 else None
    event_type = event_type if isinstance(event_type, str) and len(event_type) <= 64 else None
    return event_id, event_type


def failure_reason(row: DeadLetter) -> str | None:
    """Why a consumer dead-lettered it at once; None when SQS moved it after maxReceiveCount."""
    return ((row.attributes or {}).get("failure_reason") or {}).get("StringValue")


@retry_transient
def record_dead_letter(uow: UnitOfWork, dlq: str, message_id: str, body: str,
                       attributes: dict | None, receive_count: int) -> Recorded:
    """Record one DLQ message; a redelivery of the same message updates last_seen/receive_count.

    `attributes` are message attributes in SQS's send shape {name: {DataType, StringValue}}."""
    body = body if isinstance(body, str) else str(body)
    event_id, event_type = _envelope_fields(body)
    source_queue = source_queue_of(dlq)
    with uow:
        session = uow.session
        existing = session.scalar(select(DeadLetter).where(DeadLetter.dlq == dlq,
                                                           DeadLetter.message_id == message_id))
        if existing is None:
            row = DeadLetter(dlq=dlq, source_queue=source_queue, message_id=message_id,
                             event_id=event_id, event_type=event_type, body=body,
                             attributes=attributes or {}, receive_count=receive_count,
                             status="dead")
            session.add(row)
            try:
                session.flush()
            except IntegrityError:  # recorded concurrently by another invocation: update instead
                session.rollback()
                existing = session.scalars(select(DeadLetter).where(
                    DeadLetter.dlq == dlq, DeadLetter.message_id == message_id)).one()
            else:
                uow.commit()
                # Counted once per message (not per redelivery of it): the alarm's metric.
                metrics.emit("DeadLettersRecorded", queue=source_queue)
                return Recorded(row.dead_letter_id, True)
        existing.last_seen = utcnow()
        existing.receive_count = max(existing.receive_count, receive_count)
        dead_letter_id = existing.dead_letter_id
        uow.commit()
    return Recorded(dead_letter_id, False)


def list_dead_letters(uow: UnitOfWork, status: str | None = None, limit: int = 100) -> list[dict]:
    with uow:
        query = select(DeadLetter).order_by(DeadLetter.dead_letter_id.desc()).limit(limit)
        if status:
            query = query.where(DeadLetter.status == status)
        return resources.DEAD_LETTERS.dump(uow.session.scalars(query))


def get_dead_letter(uow: UnitOfWork, dead_letter_id: int) -> dict:
    with uow:
        row = uow.session.get(DeadLetter, dead_letter_id)
        if row is None:
            raise DeadLetterNotFound(dead_letter_id)
        return resources.DEAD_LETTER.dump(row)


def redrive(uow: UnitOfWork, messaging: QueueSender, dead_letter_id: int) -> dict:
    """Send a dead letter back to its source queue and mark it redriven.

    Sent first, marked after: a crash in between leaves it `dead` and a second redrive sends a
    duplicate, which the idempotent consumers ignore; the other order could lose it."""
    with uow:
        row = uow.session.get(DeadLetter, dead_letter_id)
        if row is None:
            raise DeadLetterNotFound(dead_letter_id)
        if row.status != "dead":
            raise AlreadyRedriven(f"dead letter {dead_letter_id} was redriven at {row.redriven_at}")
        source_queue, body = row.source_queue, row.body
        if not _redrivable(source_queue):
            raise NotRedrivable(f"dead letter {dead_letter_id} is of {source_queue}, the "
                                "factory's own queue: the shop may not send to it (docs/deploy.md)")
        attributes = {name: value for name, value in (row.attributes or {}).items()
                      if name not in FAILURE_ATTRIBUTES}
    messaging.send(messaging.queue_url(source_queue), body, attributes)
    with uow:
        uow.session.execute(update(DeadLetter).where(DeadLetter.dead_letter_id == dead_letter_id)
                            .values(status="redriven", redriven_at=utcnow()))
        uow.commit()
        return resources.DEAD_LETTER.dump(
            uow.session.get_one(DeadLetter, dead_letter_id, populate_existing=True))


def redrive_all(uow: UnitOfWork, messaging: QueueSender, source_queue: str | None = None,
                limit: int = 500) -> list[dict]:
    """Redrive every dead letter still `dead` (of one source queue when given), oldest first."""
    with uow:
        query = (select(DeadLetter.dead_letter_id).where(DeadLetter.status == "dead")
                 .order_by(DeadLetter.dead_letter_id).limit(limit))
        if source_queue:
            query = query.where(DeadLetter.source_queue == source_queue)
        ids = list(uow.session.scalars(query))
    redriven = []
    for dead_letter_id in ids:
        try:
            redriven.append(redrive(uow, messaging, dead_letter_id))
        except AlreadyRedriven:  # another operator got there first
            continue
    return redriven
