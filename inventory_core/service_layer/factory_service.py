"""The factory's use cases (the "legacy" factory, on its own database). Each takes a UnitOfWork
on the factory database (FactoryOutbox) and commits it once.

Production takes the factory's lead time. Accepting an order schedules its completion with a
delayed `production.due` message on the factory's own queue (SQS delays at most 900 s, so a
longer lead time is re-delayed when the message arrives early); completing it publishes
`production.completed` through the factory's outbox, in the same transaction."""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from inventory_core.adapters.db import rows_matched
from inventory_core.adapters.models.common import iso, utcnow
from inventory_core.adapters.models.factory import FactorySite, ProductionLog, ProductionOrder
from inventory_core.domain.errors import Conflict, NotFound
from inventory_core.domain.events import new_event
from inventory_core.domain.stock import InvalidQuantity, check_quantity  # noqa: F401 (part of the API)
from inventory_core.service_layer import resources
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient
from inventory_core.topology import SQS_MAX_DELAY_SECONDS

log = logging.getLogger(__name__)
# A due message may be handed over a moment before due_at (clock granularity); completing it then
# is better than sending another message for less than a second.
DUE_TOLERANCE_SECONDS = 1.0
STATUSES = ("in_production", "completed", "cancelled")


class ProductionOrderNotFound(NotFound):
    def __init__(self, production_order_id: object) -> None:
        super().__init__(f"Production order {production_order_id} does not exist.")


class UnknownFactory(NotFound):
    def __init__(self, factory_id: object) -> None:
        super().__init__(f"Factory {factory_id} does not exist.")
        self.factory_id = factory_id


class ReplenishmentIdTaken(Conflict):
    """A request repeats a replenishment order id with another factory, item or quantity: it is
    not a retry of the order the factory holds, and the factory will not answer it with that
    order (the shop's real request would then never be produced as asked)."""

    def __init__(self, existing: ProductionOrder):
        super().__init__(
            f"Replenishment order {existing.replenishment_order_id} is already production order "
            f"{existing.production_order_id} ({existing.quantity} x item {existing.item_id} at "
            f"factory {existing.factory_id}); a request with other terms changes nothing.")


class AlreadyProduced(Conflict):
    def __init__(self, existing: ProductionOrder):
        super().__init__(f"Production order {existing.production_order_id} was completed at "
                         f"{iso(existing.completed_at)}; there is nothing left to cancel.")


def _same_terms(existing: ProductionOrder, factory_id: int, item_id: int, quantity: int) -> None:
    if (existing.factory_id, existing.item_id, existing.quantity) != (factory_id, item_id,
                                                                       quantity):
        raise ReplenishmentIdTaken(existing)


# --- shapes -------------------------------------------------------------------------------------

def _order_for(session, replenishment_order_id: int) -> ProductionOrder | None:
    return session.scalar(select(ProductionOrder)
                          .where(ProductionOrder.replenishment_order_id == replenishment_order_id))


def _due_event(order: ProductionOrder):
    return new_event("production.due", {"production_order_id": order.production_order_id},
                     order.correlation_id)


# --- writes -------------------------------------------------------------------------------------

@retry_transient
def accept_production_order(uow: UnitOfWork, replenishment_order_id: int, factory_id: int,
                            item_id: int, item_name: str, quantity: int, requester: str,
                            correlation_id: str | None = None,
                            lead_time_override: int | None = None) -> tuple[dict, bool]:
    """Start producing for a shop replenishment order, once: a retried call (same
    replenishment_order_id, factory, item and quantity) returns the order it created before,
    with created=False; the same id with other terms raises ReplenishmentIdTaken (409)."""
    check_quantity(quantity)
    with uow:
        session = uow.session
        existing = _order_for(session, replenishment_order_id)
        if existing is not None:
            _same_terms(existing, factory_id, item_id, quantity)
            return resources.PRODUCTION_ORDER.dump(existing), False
        factory = session.get(FactorySite, factory_id)
        if factory is None:
            raise UnknownFactory(factory_id)
        lead = max(0, int(lead_time_override if lead_time_override is not None
                          else factory.lead_time_seconds))
        now = utcnow()
        order = ProductionOrder(replenishment_order_id=replenishment_order_id,
                                factory_id=factory_id, item_id=item_id, item_name=item_name,
                                quantity=quantity, requester=requester, status="in_production",
                                correlation_id=correlation_id,
                                due_at=now + timedelta(seconds=lead), created_at=now)
        session.add(order)
        try:
            # A concurrent duplicate waits here on the unique index, then fails once the
            # first commits: answer with the order that one created.
            session.flush()
        except IntegrityError:
            session.rollback()
            existing = _order_for(session, replenishment_order_id)
            if existing is None:
                raise
            _same_terms(existing, factory_id, item_id, quantity)
            return resources.PRODUCTION_ORDER.dump(existing), False
        session.add(ProductionLog(factory_id=factory_id, factory_name=factory.name,
                                  item_id=item_id, item_name=item_name, quantity=quantity,
                                  requester=requester, logged_at=now,
                                  production_order_id=order.production_order_id))
        uow.emit(_due_event(order), delay_seconds=min(lead, SQS_MAX_DELAY_SECONDS))
        result = resources.PRODUCTION_ORDER.dump(order)
        uow.commit()
    log.info("production order #%d accepted for replenishment order #%d: %d x %s at %s, due in "
             "%d s", result["production_order_id"], replenishment_order_id, quantity, item_name,
             factory.name, lead)
    return result, True


@retry_transient
def complete_production(uow: UnitOfWork, production_order_id: int,
                        now: datetime | None = None) -> str:
    """Handle a `production.due` message: "completed", "already_completed" (a duplicate),
    "cancelled" (the shop cancelled it in time), "rescheduled" (arrived before the order is
    due: re-delayed) or "unknown"."""
    now = now or utcnow()
    with uow:
        session = uow.session
        order = session.get(ProductionOrder, production_order_id)
        if order is None:
            return "unknown"
        if order.status == "completed":
            return "already_completed"
        if order.status == "cancelled":
            return "cancelled"  # the shop cancelled it: nothing is produced, nothing sent
        remaining = (order.due_at - now).total_seconds()
        if remaining > DUE_TOLERANCE_SECONDS:
            uow.emit(_due_event(order),
                     delay_seconds=min(math.ceil(remaining), SQS_MAX_DELAY_SECONDS))
            uow.commit()
            return "rescheduled"
        # Conditional: of two concurrent deliveries of the same message, exactly one matches.
        won = rows_matched(session,
            update(ProductionOrder)
            .where(ProductionOrder.production_order_id == production_order_id,
                   ProductionOrder.status == "in_production")
            .values(status="completed", completed_at=now)
            .execution_options(synchronize_session=False)) == 1
        if not won:
            return "already_completed"
        uow.emit(new_event("production.completed", {
            "production_order_id": order.production_order_id,
            "replenishment_order_id": order.replenishment_order_id,
            "factory_id": order.factory_id, "item_id": order.item_id,
            "item_name": order.item_name, "quantity": order.quantity,
            "completed_at": now.isoformat(timespec="milliseconds")}, order.correlation_id))
        uow.commit()
    return "completed"


@retry_transient
def cancel_production_order(uow: UnitOfWork, replenishment_order_id: int, factory_id: int,
                            item_id: int, item_name: str, quantity: int, requester: str,
                            correlation_id: str | None = None) -> tuple[dict, bool]:
    """Stop producing for a replenishment order the shop cancelled: (the order, whether this
    call cancelled it). Not yet produced: cancelled, its due message then completes nothing.
    Already cancelled: the same answer (a retry). Already produced: AlreadyProduced (409). Not
    known yet (the cancel overtook the request): a cancelled order is recorded, so the request,
    when it comes, finds it and produces nothing. Other terms than the order's: 409."""
    check_quantity(quantity)
    now = utcnow()
    with uow:
        session = uow.session
        existing = _order_for(session, replenishment_order_id)
        if existing is None:
            if session.get(FactorySite, factory_id) is None:
                raise UnknownFactory(factory_id)
            tombstone = ProductionOrder(
                replenishment_order_id=replenishment_order_id, factory_id=factory_id,
                item_id=item_id, item_name=item_name, quantity=quantity, requester=requester,
                status="cancelled", correlation_id=correlation_id, due_at=now, created_at=now,
                cancelled_at=now)
            session.add(tombstone)
            try:
                session.flush()
            except IntegrityError:  # its request arrived at this moment: cancel that one below
                session.rollback()
                existing = _order_for(session, replenishment_order_id)
                if existing is None:
                    raise
            else:
                result = resources.PRODUCTION_ORDER.dump(tombstone)
                uow.commit()
                return result, True
        _same_terms(existing, factory_id, item_id, quantity)
        if existing.status == "cancelled":
            return resources.PRODUCTION_ORDER.dump(existing), False
        # Conditional: the production consumer may be completing it at this very moment.
        won = rows_matched(session,
            update(ProductionOrder)
            .where(ProductionOrder.production_order_id == existing.production_order_id,
                   ProductionOrder.status == "in_production")
            .values(status="cancelled", cancelled_at=now)
            .execution_options(synchronize_session=False)) == 1
        session.refresh(existing)
        if not won:
            raise AlreadyProduced(existing)
        result = resources.PRODUCTION_ORDER.dump(existing)
        uow.commit()
    return result, True


@retry_transient
def create_log(uow: UnitOfWork, factory_id: int, factory_name: str, item_id: int, item_name: str,
               quantity: int, requester: str) -> dict:
    """The seed's `POST /log`: record a production log row as given."""
    check_quantity(quantity)
    with uow:
        entry = ProductionLog(factory_id=factory_id, factory_name=factory_name, item_id=item_id,
                              item_name=item_name, quantity=quantity, requester=requester,
                              logged_at=utcnow())
        uow.session.add(entry)
        uow.session.flush()
        result = resources.LOG.dump(entry)
        uow.commit()
    return result


# --- reads --------------------------------------------------------------------------------------

def list_logs(uow: UnitOfWork, limit: int | None = None) -> list[dict]:
    """Oldest first, as the seed's `SELECT * FROM logs` listed them."""
    with uow:
        query = select(ProductionLog).order_by(ProductionLog.log_id)
        if limit is not None:
            query = query.limit(limit)
        return resources.LOGS.dump(uow.session.scalars(query))


def list_production_orders(uow: UnitOfWork, status: str | None = None,
                           limit: int = 100) -> list[dict]:
    """Newest first."""
    with uow:
        query = select(ProductionOrder).order_by(ProductionOrder.production_order_id.desc())
        if status:
            query = query.where(ProductionOrder.status == status)
        return resources.PRODUCTION_ORDERS.dump(uow.session.scalars(query.limit(limit)))


def get_production_order(uow: UnitOfWork, production_order_id: int) -> dict:
    with uow:
        order = uow.session.get(ProductionOrder, production_order_id)
        if order is None:
            raise ProductionOrderNotFound(production_order_id)
        return resources.PRODUCTION_ORDER.dump(order)
