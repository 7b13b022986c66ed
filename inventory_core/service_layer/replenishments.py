"""A replenishment order's life after it opens: cancel, the scheduled deadline check with its
reconciliation against the factory, and the counts operators watch.

Every status change goes through inventory_core.domain.replenishment (`_move`), under the order's
row lock, so a completion, a cancel and the check racing for one order serialise and the loser
finds the order moved on. Each use case commits once; the events it emits (a new request, a
cancellation for the factory, the operator's e-mails) leave through the shop outbox in the same
transaction.

The scheduled check (consumers.lifecycle, every minute) never calls the factory inside a
transaction: it lists the overdue orders, asks the factory about each accepted one, then hands
the answer to `reconcile`, which re-checks the order under its lock before acting.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from inventory_core.adapters import metrics
from inventory_core.adapters.models.common import iso, utcnow
from inventory_core.adapters.models.shop import DeliveryAnomaly, Item, ReplenishmentOrder
from inventory_core.domain import replenishment
from inventory_core.domain.errors import NotFound
from inventory_core.domain.events import new_event
from inventory_core.domain.replenishment import Action, FactoryView, Status, Timeouts
from inventory_core.domain.text import one_line
from inventory_core.service_layer import resources
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

log = logging.getLogger(__name__)
# The dashboard counts failed orders of the last day: an old failure has been dealt with.
RECENT = timedelta(hours=24)


class ReplenishmentNotFound(NotFound):
    def __init__(self, replenishment_order_id: int):
        super().__init__(f"Replenishment order {replenishment_order_id} does not exist.")


@dataclass(frozen=True)
class Overdue:
    """An open order past its deadline, as the check found it (re-checked under lock later)."""
    replenishment_order_id: int
    status: str
    factory_reference: str | None


def _locked(session, replenishment_order_id: int) -> ReplenishmentOrder:
    # The order's row only (its item's row stays free for sales); see shop_service._lock_item.
    order = session.get(ReplenishmentOrder, replenishment_order_id, with_for_update=True,
                        options=[lazyload("*")])
    if order is None:
        raise ReplenishmentNotFound(replenishment_order_id)
    return order


def _move(order: ReplenishmentOrder, action: Action, now: datetime,
          reason: str | None = None) -> None:
    """The one place an order's status changes after it opened (besides the conditional
    acceptance and the restock in shop_service, which ask the same state machine)."""
    order.status = replenishment.next_status(order.status, action, order.replenishment_order_id)
    if order.status in replenishment.ENDED:
        order.open_item_id = None  # frees the item: its next shortage opens a new order
        order.ended_at = now
        order.end_reason = one_line(reason or "")[:200] or None


def _order_payload(session, order: ReplenishmentOrder) -> dict:
    item = session.get_one(Item, order.item_id)  # not locked: only its names are read
    return {"replenishment_order_id": order.replenishment_order_id, "item_id": order.item_id,
            "item_name": item.name, "factory_id": item.factory_id,
            "factory_name": item.factory.name, "quantity": order.quantity}


# --- cancel -------------------------------------------------------------------------------------

@retry_transient
def cancel(uow: UnitOfWork, replenishment_order_id: int,
           reason: str = "cancelled by an operator") -> dict:
    """Cancel an open order: the item is free for a new order at once, and the factory is asked
    (`replenishment.cancelled`, through the order consumer) to stop what it has not produced.
    ReplenishmentNotFound (404); OrderEnded (409) when it has already ended."""
    now = utcnow()
    with uow:
        order = _locked(uow.session, replenishment_order_id)
        _move(order, Action.CANCEL, now, reason)
        uow.emit(new_event("replenishment.cancelled", {
            **_order_payload(uow.session, order), "requester": order.requester,
            "reason": order.end_reason or reason}))
        result = resources.REPLENISHMENT.dump(order)
        uow.commit()
    log.info("replenishment order %s cancelled: %s", replenishment_order_id, reason)
    metrics.emit("ReplenishmentsCancelled")
    return result


# --- the scheduled check ------------------------------------------------------------------------

def overdue(uow: UnitOfWork, timeouts: Timeouts, now: datetime | None = None) -> list[Overdue]:
    """Open orders past their deadline, oldest first. At most one is open per item, so this reads
    at most one row per item."""
    now = now or utcnow()
    with uow:
        rows = uow.session.scalars(select(ReplenishmentOrder)
                                   .where(ReplenishmentOrder.open_item_id.is_not(None))
                                   .order_by(ReplenishmentOrder.replenishment_order_id)
                                   .options(lazyload("*")))
        return [Overdue(o.replenishment_order_id, o.status, o.factory_reference)
                for o in rows if _past_deadline(o, timeouts, now)]


def _past_deadline(order: ReplenishmentOrder, timeouts: Timeouts, now: datetime) -> bool:
    deadline = replenishment.deadline(order.status, order.requested_at or order.created_at,
                                      order.accepted_at, order.due_at, timeouts)
    return deadline is not None and deadline <= now


@retry_transient
def expire_request(uow: UnitOfWork, replenishment_order_id: int, timeouts: Timeouts,
                   now: datetime | None = None) -> str:
    """A request the factory did not accept in time: ask again (a bounded number of times), or
    fail it, free the item and e-mail the operator. "re_requested", "failed" or "unchanged" (it
    moved on since it was listed)."""
    now = now or utcnow()
    with uow:
        order = _locked(uow.session, replenishment_order_id)
        if order.status != Status.REQUESTED or not _past_deadline(order, timeouts, now):
            return "unchanged"
        action = replenishment.after_missed_deadline(order.request_count, timeouts.max_requests)
        waited = int((now - (order.requested_at or order.created_at)).total_seconds())
        outcome = _re_request_or_fail(
            uow, order, action, now,
            f"the factory did not accept request {order.request_count} of "
            f"{timeouts.max_requests} within {timeouts.accept_seconds}s (waited {waited}s)")
        uow.commit()
    return outcome


def factory_view(replenishment_order_id: int, factory_order: dict | None) -> FactoryView:
    """The factory's record of an order (its `GET /production-orders/<id>` answer; None: 404)."""
    if factory_order is None:
        return FactoryView.MISSING
    if factory_order.get("replenishment_order_id") != replenishment_order_id:
        return FactoryView.OTHER_ORDER
    try:
        return FactoryView(str(factory_order.get("status")))
    except ValueError:
        return FactoryView.IN_PRODUCTION  # a status we do not know: not lost, keep watching


@retry_transient
def reconcile(uow: UnitOfWork, replenishment_order_id: int, factory_reference: str | None,
              factory_order: dict | None, timeouts: Timeouts, now: datetime | None = None) -> str:
    """An accepted order past its due time plus grace, with the factory's record of production
    order `factory_reference` (`factory_order` None: the factory has no such order). Lost: asked
    again, or failed and escalated once the requests are used up. Late but in production: wait
    until the factory's new due time. Produced but never received, or late past its own due time:
    kept open, escalated once (stalled; a redriven completion still closes it). Returns what it
    did: "re_requested", "failed", "rescheduled", "stalled" or "unchanged"."""
    now = now or utcnow()
    view = factory_view(replenishment_order_id, factory_order)
    with uow:
        order = _locked(uow.session, replenishment_order_id)
        if (order.status != Status.ACCEPTED or order.factory_reference != factory_reference
                or not _past_deadline(order, timeouts, now)):
            return "unchanged"
        action = replenishment.after_reconciling(view, order.request_count, timeouts.max_requests)
        if action is not None:
            outcome = _re_request_or_fail(
                uow, order, action, now,
                f"the factory's production order {factory_reference} is {view.value}")
        else:
            promised = _parse_time((factory_order or {}).get("due_at"))
            if view is FactoryView.IN_PRODUCTION and promised and promised > (order.due_at or now):
                order.due_at = promised  # late but alive: look again after its new due time
                outcome = "rescheduled"
            else:
                outcome = _stall(uow, order, view, now)
        uow.commit()
    return outcome


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _re_request_or_fail(uow: UnitOfWork, order: ReplenishmentOrder, action: Action,
                        now: datetime, why: str) -> str:
    if action is Action.RE_REQUEST:
        _move(order, Action.RE_REQUEST, now)
        order.request_count += 1
        order.requested_at = now
        order.factory_reference = order.accepted_at = order.due_at = order.escalated_at = None
        uow.emit(new_event("replenishment.requested", {
            **_order_payload(uow.session, order), "requester": order.requester,
            "trigger": order.trigger}))
        log.warning("replenishment order %s requested again (%d): %s",
                    order.replenishment_order_id, order.request_count, why)
        metrics.emit("ReplenishmentsReRequested")
        return "re_requested"
    _move(order, Action.FAIL, now, why)
    uow.emit(new_event("replenishment.failed", {
        **_order_payload(uow.session, order), "request_count": order.request_count,
        "reason": order.end_reason or why}))
    log.error("replenishment order %s failed: %s", order.replenishment_order_id, why)
    metrics.emit("ReplenishmentsFailed")
    return "failed"


def _stall(uow: UnitOfWork, order: ReplenishmentOrder, view: FactoryView, now: datetime) -> str:
    """Keep it open, look again after another grace period, tell the operator once."""
    order.due_at = now
    if order.escalated_at is None:
        order.escalated_at = now
        uow.emit(new_event("replenishment.stalled", {
            **_order_payload(uow.session, order), "factory_status": view.value,
            "reason": ("produced by the factory, but its completion never reached the shop "
                       "(look for it in the delivery queue's dead letters)"
                       if view is FactoryView.COMPLETED else
                       "still in production past the factory's own due time")}))
        log.error("replenishment order %s stalled: factory says %s",
                  order.replenishment_order_id, view.value)
    return "stalled"


# --- what operators watch -------------------------------------------------------------------------

ANOMALY_ROWS = 10


def recent_anomalies(uow: UnitOfWork, limit: int = ANOMALY_ROWS) -> list[dict]:
    with uow:
        return [{"anomaly_id": a.anomaly_id, "kind": a.kind, "event_id": a.event_id,
                 "replenishment_order_id": a.replenishment_order_id,
                 "production_order_id": a.production_order_id, "item_id": a.item_id,
                 "quantity": a.quantity, "detail": a.detail, "created_at": iso(a.created_at)}
                for a in uow.session.scalars(select(DeliveryAnomaly)
                                             .order_by(DeliveryAnomaly.anomaly_id.desc())
                                             .limit(limit))]


def counts(uow: UnitOfWork, timeouts: Timeouts | None = None,
           now: datetime | None = None) -> dict[str, int]:
    """Failed orders of the last day, stalled orders (open and escalated), overdue orders (open
    past their deadline: the next check acts on them; only with `timeouts`) and delivery
    anomalies of the last day."""
    now = now or utcnow()
    since = now - RECENT
    with uow:
        session = uow.session
        failed = session.scalar(select(func.count()).select_from(ReplenishmentOrder).where(
            ReplenishmentOrder.status == Status.FAILED, ReplenishmentOrder.ended_at >= since))
        open_orders = list(session.scalars(select(ReplenishmentOrder)
                                           .where(ReplenishmentOrder.open_item_id.is_not(None))
                                           .options(lazyload("*"))))
        anomalies = session.scalar(select(func.count()).select_from(DeliveryAnomaly)
                                   .where(DeliveryAnomaly.created_at >= since))
    return {"failed": failed or 0,
            "stalled": sum(o.escalated_at is not None for o in open_orders),
            "overdue": sum(_past_deadline(o, timeouts, now) for o in open_orders
                           ) if timeouts else 0,
            "anomalies": anomalies or 0}
