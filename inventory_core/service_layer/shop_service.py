"""The shop's use cases. Each takes a UnitOfWork on the shop database and commits it once."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload

from inventory_core.adapters import idempotency_keys, metrics
from inventory_core.adapters.db import rows_matched
from inventory_core.adapters.idempotency import first_delivery
from inventory_core.adapters.models.common import iso, utcnow
from inventory_core.adapters.models.shop import (
    Item,
    Purchase,
    ReorderRule,
    ReplenishmentOrder,
    ShopProcessedEvent,
    StockLedgerEntry,
)
from inventory_core.domain import replenishment
from inventory_core.domain.backorders import sellable
from inventory_core.domain.errors import NotFound, Unprocessable
from inventory_core.domain.events import MAX_QUANTITY, new_event
from inventory_core.domain.replenishment import Action
from inventory_core.domain.stock import (
    DEFAULT_RULE,
    InvalidQuantity,
    Rule,
    check_quantity,
    needs_reorder,
    reorder_quantity,
)
from inventory_core.service_layer import backorders, forecasting
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

log = logging.getLogger(__name__)


class ItemNotFound(NotFound):
    def __init__(self, item: object) -> None:
        super().__init__(f"Item {item} does not exist.")
        self.item = item


class KeyReused(Unprocessable):
    """An Idempotency-Key sent again with a different request."""


class BackorderTooLarge(Unprocessable):
    """More than one replenishment order may bring (the item's maximum order quantity): such a
    backorder could wait forever behind orders that never cover it."""


# Keys are kept at least this long (the IETF draft and Stripe: 24 h); a retry after that is new.
KEEP_IDEMPOTENCY_KEYS = timedelta(hours=24)


@dataclass(frozen=True)
class KeyedRequest:
    key: str  # the client's Idempotency-Key
    fingerprint: str  # a hash of what was asked (method, route, body): "the same request"?


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    replayed: bool = False  # True: the stored answer of an earlier request with the same key


@dataclass(frozen=True)
class PurchaseResult:
    completed: bool
    purchase_id: int
    item_id: int
    item_name: str
    quantity: int
    remaining: int  # on hand after this attempt
    replenishment: dict | None  # the item's open replenishment order, if any
    available: int = 0  # what a plain sale could take now: on hand less what backorders are owed
    backorder: dict | None = None  # the waiting backorder this attempt placed (`backorder=True`)


@dataclass(frozen=True)
class ReceiveResult:
    applied: bool  # False: this event was applied before, nothing changed
    item_id: int
    quantity: int | None = None  # stock after the restock


def rule_of(item: Item) -> Rule:
    r = item.reorder_rule
    return (Rule(r.reorder_point, r.target_level, r.multiple, r.max_order_quantity) if r
            else DEFAULT_RULE)


def replenishment_as_dict(order: ReplenishmentOrder) -> dict:
    return {"replenishment_order_id": order.replenishment_order_id, "item_id": order.item_id,
            "quantity": order.quantity, "status": order.status, "trigger": order.trigger,
            "requester": order.requester, "factory_reference": order.factory_reference,
            "received_quantity": order.received_quantity,
            "request_count": order.request_count,
            "created_at": iso(order.created_at),
            "requested_at": iso(order.requested_at or order.created_at),
            "accepted_at": iso(order.accepted_at),
            "due_at": iso(order.due_at),
            "fulfilled_at": iso(order.fulfilled_at),
            "ended_at": iso(order.ended_at), "end_reason": order.end_reason}


def _find_item(session, item: str | int) -> Item:
    """An item by its name (the seed's way) or by its id."""
    key = Item.item_id if isinstance(item, int) and not isinstance(item, bool) else Item.name
    found = session.scalar(select(Item).where(key == item))
    if found is None:
        raise ItemNotFound(item)
    return found


@dataclass(frozen=True)
class Backordering:
    """Take the purchase as a backorder when stock is short (POST /purchases "backorder": true);
    `email`: where to tell the requester it was filled (else only the backorder.filled event)."""
    email: str | None = None


@retry_transient
def purchase(uow: UnitOfWork, item_key: str | int, quantity: int,
             requester: str, backorder: Backordering | None = None) -> PurchaseResult:
    """Sell `quantity` units of the item `item_key` names (a name or an id) if there are that
    many, atomically; otherwise sell nothing and make sure a replenishment order is open for it
    (one at most). With `backorder`, a shortage places a waiting backorder instead, which the
    next restock fills (service_layer.backorders)."""
    check_quantity(quantity)
    with uow:
        result = _sell(uow, item_key, quantity, requester, backorder)
        uow.commit()
    _report_sale(result)
    return result


@retry_transient
def purchase_once(uow: UnitOfWork, request: KeyedRequest,
                  answer: Callable[[PurchaseResult], tuple[int, dict]], item_key: str | int,
                  quantity: int, requester: str, backorder: Backordering | None = None) -> Answer:
    """`purchase`, at most once per Idempotency-Key: the key is claimed in the sale's own
    transaction with the answer (`answer(result)`: status and JSON body) the client got. A retry
    with the same key and request gets that answer back and sells nothing more, also while the
    first is still running (it waits for it); the same key with another request raises
    KeyReused. A purchase that sold nothing for want of the item stores nothing (ItemNotFound)."""
    check_quantity(quantity)
    with uow:
        first = idempotency_keys.claim_key(uow.session, request.key, request.fingerprint)
        if first is not None:
            if first.request_hash != request.fingerprint:
                raise KeyReused("this Idempotency-Key was used for a different request")
            return Answer(first.status_code, json.loads(first.response_body), replayed=True)
        result = _sell(uow, item_key, quantity, requester, backorder)
        status, body = answer(result)
        idempotency_keys.record_answer(uow.session, request.key, status,
                                       json.dumps(body, ensure_ascii=False))
        uow.commit()
    _report_sale(result)
    return Answer(status, body)


def _report_sale(result: PurchaseResult) -> None:
    """One log line per committed purchase, in the flow's correlation id (inventory_core.logs),
    and its metrics per item: Purchases and UnitsSold, or Shortages."""
    if result.completed:
        metrics.emit("Purchases", item=result.item_name)
        metrics.emit("UnitsSold", result.quantity, item=result.item_name)
    elif result.backorder is not None:
        metrics.emit("Backorders", item=result.item_name)
    else:
        metrics.emit("Shortages", item=result.item_name)
    order = result.replenishment
    reorder = (f"; replenishment order #{order['replenishment_order_id']} "
               f"({order['quantity']} units, {order['status']})" if order else "")
    if result.completed:
        log.info("purchase #%d: sold %d x %s, %d left%s", result.purchase_id, result.quantity,
                 result.item_name, result.remaining, reorder)
    elif result.backorder is not None:
        log.info("purchase #%d backordered: %d x %s wanted, %d in stock, backorder #%d%s",
                 result.purchase_id, result.quantity, result.item_name, result.remaining,
                 result.backorder["backorder_id"], reorder)
    else:
        log.info("purchase #%d short: %d x %s wanted, %d in stock%s", result.purchase_id,
                 result.quantity, result.item_name, result.remaining, reorder)


def _sell(uow: UnitOfWork, item_key: str | int, quantity: int, requester: str,
          backorder: Backordering | None = None) -> PurchaseResult:
    """The sale itself, inside the caller's transaction (it commits)."""
    session = uow.session
    item = _find_item(session, item_key)
    sold = _decrement(session, item.item_id, quantity)
    # Lock the row (MySQL; SQLite's BEGIN IMMEDIATE already holds the database) and read the
    # quantity as it is now: after our decrement, or as the shortage found it.
    remaining, owed = _locked_stock(session, item.item_id)
    if not sold and sellable(remaining, owed) >= quantity:
        # A restock committed between the decrement and the lock: sell from it (we hold the
        # lock now, so this one matches) rather than answer short or backorder what is there.
        sold = _decrement(session, item.item_id, quantity)
        remaining, owed = _locked_stock(session, item.item_id)
    status = "completed" if sold else "backordered" if backorder else "short"
    record = Purchase(item_id=item.item_id, quantity=quantity, requester=requester,
                      status=status, remaining=remaining)
    session.add(record)
    session.flush()
    order, placed = None, None
    if sold:
        _ledger(session, item.item_id, -quantity, remaining, "sale",
                f"purchase:{record.purchase_id}")
        if remaining == 0:
            _emit_stock_event(uow, "stock.depleted", item, remaining)
        if needs_reorder(rule_of(item), remaining - owed):
            order = _ensure_replenishment(uow, item, remaining - owed, 0, requester,
                                          "reorder_point")
    elif backorder:
        if quantity > rule_of(item).max_order:  # nothing is written: the transaction rolls back
            raise BackorderTooLarge(
                f"A backorder of {quantity} is more than {item.name}'s maximum order quantity "
                f"({rule_of(item).max_order}); buy what is in stock or order less.")
        waiting = backorders.place(session, item, quantity, requester, backorder.email)
        owed += quantity
        # Sized from stock less everything owed, this one included: the order covers the
        # backorders plus the target (or, if one is open already, the next order does).
        order = _ensure_replenishment(uow, item, remaining - owed, 0, requester, "backorder")
        placed = backorders.as_dict(waiting, backorders.position(session, waiting), item.name)
    else:
        available = sellable(remaining, owed)
        order = _ensure_replenishment(uow, item, remaining - owed, quantity - available,
                                      requester, "shortage")
    record.replenishment_order_id = order.replenishment_order_id if order else None
    return PurchaseResult(sold, record.purchase_id, item.item_id, item.name, quantity,
                          remaining, replenishment_as_dict(order) if order else None,
                          sellable(remaining, owed), placed)


def _decrement(session, item_id: int, quantity: int) -> bool:
    """The conditional decrement: of many concurrent buyers, only those the stock covers match,
    and only from stock no waiting backorder is owed."""
    return rows_matched(session,
        update(Item).where(Item.item_id == item_id,
                           Item.quantity - Item.backordered >= quantity)
        .values(quantity=Item.quantity - quantity)
        .execution_options(synchronize_session=False)) == 1


def _locked_stock(session, item_id: int) -> tuple[int, int]:
    """(on hand, owed to backorders), the row locked until the transaction ends."""
    quantity, owed = session.execute(select(Item.quantity, Item.backordered)
                                     .where(Item.item_id == item_id).with_for_update()).one()
    return quantity, owed


def forget_idempotency_keys(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Delete Idempotency-Keys older than KEEP_IDEMPOTENCY_KEYS; how many."""
    cutoff = (now or utcnow()) - KEEP_IDEMPOTENCY_KEYS
    with uow:
        forgotten = idempotency_keys.forget_keys_before(uow.session, cutoff)
        uow.commit()
    return forgotten



def _ensure_replenishment(uow, item, on_hand, shortfall, requester, trigger) -> ReplenishmentOrder:
    session = uow.session
    open_order = session.scalar(select(ReplenishmentOrder)
                                .where(ReplenishmentOrder.open_item_id == item.item_id))
    if open_order is not None:
        return open_order
    # Never more than the rule's maximum order, however large the shortfall: one anonymous
    # purchase must not size production.
    quantity = reorder_quantity(rule_of(item), on_hand, 0, shortfall)
    now = utcnow()
    order = ReplenishmentOrder(item_id=item.item_id, open_item_id=item.item_id, quantity=quantity,
                               status=replenishment.INITIAL, trigger=trigger, requester=requester,
                               request_count=1, created_at=now, requested_at=now)
    session.add(order)
    session.flush()  # the unique index on open_item_id stops a second open order here
    uow.emit(new_event("replenishment.requested", {
        "replenishment_order_id": order.replenishment_order_id, "item_id": item.item_id,
        "item_name": item.name, "factory_id": item.factory_id, "factory_name": item.factory.name,
        "quantity": quantity, "requester": requester, "trigger": trigger}))
    return order


def _lock_item(session, item_id: int) -> Item | None:
    # The item's row only: its joined eager loads would make InnoDB lock its factory's and reorder
    # rule's rows too, serialising restocks of unrelated items of one factory. (MariaDB has no
    # FOR UPDATE OF.) The relationships still load on access, unlocked.
    return session.get(Item, item_id, with_for_update=True, options=[lazyload("*")])


def _ledger(session, item_id, delta, quantity_after, reason, reference):
    session.add(StockLedgerEntry(item_id=item_id, delta=delta, quantity_after=quantity_after,
                                 reason=reason, reference=reference))


def _emit_stock_event(uow, event_type, item, quantity):
    uow.emit(new_event(event_type, {"item_id": item.item_id, "item_name": item.name,
                                    "quantity": quantity}))


@retry_transient
def receive_stock(uow: UnitOfWork, event_id: str, item_id: int, quantity: int,
                  replenishment_order_id: int | None, consumer: str = "delivery") -> ReceiveResult:
    """Add produced stock once per event id, close the replenishment order, write the ledger."""
    check_quantity(quantity)
    with uow:
        session = uow.session
        if not first_delivery(session, ShopProcessedEvent, consumer, event_id):
            return ReceiveResult(False, item_id)
        item = _lock_item(session, item_id)
        if item is None:
            raise ItemNotFound(item_id)
        before = item.quantity
        item.quantity = before + quantity
        _ledger(session, item_id, quantity, item.quantity, "restock", f"event:{event_id}")
        order = (session.get(ReplenishmentOrder, replenishment_order_id)
                 if replenishment_order_id else None)
        lead_time = None
        if order is not None and replenishment.is_open(order.status):
            order.status = replenishment.next_status(order.status, Action.RECEIVE,
                                                     order.replenishment_order_id)
            order.open_item_id = None
            order.fulfilled_at = utcnow()
            order.received_quantity = quantity
            lead_time = (item.factory.name,
                         (order.fulfilled_at - order.created_at).total_seconds())
        _fill_backorders(uow, item, before)
        result = ReceiveResult(True, item_id, item.quantity)
        uow.commit()
    log.info("restocked item %d: +%d -> %d (replenishment order #%s, event %s)", item_id,
             quantity, result.quantity, replenishment_order_id, event_id)
    if lead_time is not None:  # requested -> fulfilled, per factory
        metrics.emit("ReplenishmentLeadTime", round(lead_time[1], 3), unit="Seconds",
                     factory=lead_time[0])
    return result


@retry_transient
def adjust_stock(uow: UnitOfWork, item_id: int, delta: int, reason: str) -> int:
    """An administrator's correction (a count, damage, a return). Never below zero."""
    with uow:
        session = uow.session
        item = _lock_item(session, item_id)
        if item is None:
            raise ItemNotFound(item_id)
        after = item.quantity + delta
        if delta == 0 or not 0 <= after <= MAX_QUANTITY:
            raise InvalidQuantity(f"stock would become {after}; it must stay from 0 to "
                                  f"{MAX_QUANTITY}")
        before, item.quantity = item.quantity, after
        _ledger(session, item_id, delta, after, "adjustment", f"admin:{reason}"[:100])
        if delta > 0:  # stock found is stock arrived: the waiting backorders have it first
            _fill_backorders(uow, item, before)
        elif before > 0 and after == 0:
            _emit_stock_event(uow, "stock.depleted", item, after)
        after = item.quantity
        uow.commit()
    return after


def _fill_backorders(uow: UnitOfWork, item: Item, before: int) -> None:
    """After stock arrived (the item's row locked, its quantity raised from `before`): fill the
    waiting backorders oldest first, and if some still wait, open the next replenishment order
    for them at once (the one just received is closed). Then say the item is back, if it is."""
    backorders.fill_waiting(uow, item)
    if item.backordered > 0:
        _ensure_replenishment(uow, item, item.quantity - item.backordered, 0, "backorders",
                              "backorder")
    if before == 0 and item.quantity > 0:
        _emit_stock_event(uow, "stock.restocked", item, item.quantity)
    elif before > 0 and item.quantity == 0:  # the backorders took all of it
        _emit_stock_event(uow, "stock.depleted", item, item.quantity)


@retry_transient
def mark_replenishment_accepted(uow: UnitOfWork, replenishment_order_id: int,
                                factory_reference: str, due_at: datetime | None = None) -> bool:
    """Record that the factory took the order (and when it promised it: `due_at`). Idempotent;
    False for an unknown order."""
    with uow:
        # Conditional on the states `accept` may start from: a restock may have fulfilled the
        # order since the factory answered (a short lead time), or an operator cancelled it, and
        # an ended order never moves again.
        accepted = rows_matched(uow.session,
            update(ReplenishmentOrder)
            .where(ReplenishmentOrder.replenishment_order_id == replenishment_order_id,
                   ReplenishmentOrder.status.in_(replenishment.sources(Action.ACCEPT)))
            .values(status=replenishment.next_status(replenishment.Status.REQUESTED,
                                                     Action.ACCEPT),
                    accepted_at=utcnow(), factory_reference=factory_reference, due_at=due_at)
            .execution_options(synchronize_session=False)) == 1
        if accepted:
            uow.commit()
            log.info("replenishment order #%d accepted by the factory: production order %s",
                     replenishment_order_id, factory_reference)
            return True
        return uow.session.get(ReplenishmentOrder, replenishment_order_id) is not None


# --- reads -------------------------------------------------------------------------------------

def item_as_dict(item: Item) -> dict:
    rule = rule_of(item)
    return {"item_id": item.item_id, "name": item.name, "price": item.price,
            "quantity": item.quantity, "backordered": item.backordered,
            "available": sellable(item.quantity, item.backordered),
            "factory_id": item.factory_id,
            "factory_name": item.factory.name, "reorder_point": rule.reorder_point,
            "target_level": rule.target_level, "reorder_multiple": rule.multiple,
            "max_order_quantity": rule.max_order,
            "reorder_policy": item.reorder_rule.policy if item.reorder_rule else "manual",
            "learned": forecasting.learned_view(item.reorder_rule)}


@dataclass(frozen=True)
class RuleSettings:
    """What an operator sets (PUT /admin/items/<id>/reorder-rule). manual: the numbers; learned:
    the parameters (None: the defaults), the numbers being learned."""
    policy: str  # manual | learned
    reorder_point: int | None = None
    target_level: int | None = None
    multiple: int | None = None
    service_level: float | None = None
    window_days: int | None = None
    review_days: float | None = None


@retry_transient
def _write_rule(uow: UnitOfWork, item_id: int, settings: RuleSettings) -> None:
    with uow:
        session = uow.session
        item = _lock_item(session, item_id)
        if item is None:
            raise ItemNotFound(item_id)
        rule = session.get(ReorderRule, item_id)
        if rule is None:
            rule = ReorderRule(item_id=item_id, reorder_point=DEFAULT_RULE.reorder_point,
                               target_level=DEFAULT_RULE.target_level,
                               multiple=DEFAULT_RULE.multiple)
            session.add(rule)
        rule.policy = settings.policy
        if settings.multiple is not None:
            rule.multiple = settings.multiple
        if settings.policy == "manual":
            assert settings.reorder_point is not None and settings.target_level is not None
            rule.reorder_point, rule.target_level = settings.reorder_point, settings.target_level
            rule.learned_inputs = rule.learned_note = rule.learned_at = None
        rule.service_level = settings.service_level
        rule.window_days = settings.window_days
        rule.review_days = settings.review_days
        uow.commit()


def set_reorder_rule(uow: UnitOfWork, item_id: int, settings: RuleSettings) -> dict:
    """Set an item's rule; a learned one is learned at once (not at the next scheduled run)."""
    _write_rule(uow, item_id, settings)
    if settings.policy == "learned":
        forecasting.learn_rule(uow, item_id)
    return get_item(uow, item_id)


def list_items(uow: UnitOfWork) -> list[dict]:
    with uow:
        items = uow.session.scalars(select(Item).order_by(Item.item_id)).unique()
        return [item_as_dict(i) for i in items]


def get_item(uow: UnitOfWork, item_id: int) -> dict:
    with uow:
        item = uow.session.get(Item, item_id)
        if item is None:
            raise ItemNotFound(item_id)
        return item_as_dict(item)


def list_replenishments(uow: UnitOfWork, status: str | None = None, limit: int = 100) -> list[dict]:
    with uow:
        newest_first = ReplenishmentOrder.replenishment_order_id.desc()
        query = select(ReplenishmentOrder).order_by(newest_first)
        if status:
            query = query.where(ReplenishmentOrder.status == status)
        return [replenishment_as_dict(o) for o in uow.session.scalars(query.limit(limit))]


def get_replenishment(uow: UnitOfWork, replenishment_order_id: int) -> dict | None:
    with uow:
        order = uow.session.get(ReplenishmentOrder, replenishment_order_id)
        return replenishment_as_dict(order) if order else None


def ledger_balance(uow: UnitOfWork, item_id: int) -> int:
    with uow:
        return uow.session.scalars(select(func.coalesce(func.sum(StockLedgerEntry.delta), 0))
                                   .where(StockLedgerEntry.item_id == item_id)).one()
