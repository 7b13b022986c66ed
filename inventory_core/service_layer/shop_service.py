"""The shop's use cases. Each takes a UnitOfWork on the shop database and commits it once."""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload

from inventory_core.adapters import idempotency_keys, metrics, restocks, sales
from inventory_core.adapters.db import rows_matched
from inventory_core.adapters.idempotency import first_delivery
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    DeliveryAnomaly,
    Item,
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
from inventory_core.service_layer import backorders, forecasting, resources
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

log = logging.getLogger(__name__)


class ItemNotFound(NotFound):
    def __init__(self, item: object) -> None:
        super().__init__(f"Item {item} does not exist.")
        self.item = item


class KeyReused(Unprocessable):
    """An Idempotency-Key sent again with a different request."""


class ReplenishmentNotFound(NotFound):
    def __init__(self, replenishment_order_id: object) -> None:
        super().__init__(f"Replenishment order {replenishment_order_id} does not exist.")


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
    anomaly: str | None = None  # set: it matched no open order and changed no stock
    short: bool = False  # less arrived than was ordered


def rule_of(item: Item) -> Rule:
    r = item.reorder_rule
    return (Rule(r.reorder_point, r.target_level, r.multiple, r.max_order_quantity) if r
            else DEFAULT_RULE)


def _facts(item: Item) -> sales.ItemFacts:
    """A loaded item as the sale's ItemFacts (for the paths that lock it through the ORM)."""
    return sales.ItemFacts(item.item_id, item.name, item.factory_id, item.factory.name,
                           rule_of(item))


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
        first = idempotency_keys.claim_key(uow.connection, request.key, request.fingerprint)
        if first is not None:
            if first.request_hash != request.fingerprint:
                raise KeyReused("This Idempotency-Key was used for a different request; use a new "
                                "key for a new purchase.")
            return Answer(first.status_code, json.loads(first.response_body), replayed=True)
        result = _sell(uow, item_key, quantity, requester, backorder)
        status, body = answer(result)
        idempotency_keys.record_answer(uow.connection, request.key, status,
                                       json.dumps(body, ensure_ascii=False))
        uow.commit()
    _report_sale(result)
    return Answer(status, body)


def _report_sale(result: PurchaseResult) -> None:
    """One log line per committed purchase, in the flow's correlation id (inventory_core.logs),
    and its metrics per item: Purchases and UnitsSold, Backorders, or Shortages."""
    order = result.replenishment
    reorder = (f"; replenishment order #{order['replenishment_order_id']} "
               f"({order['quantity']} units, {order['status']})" if order else "")
    if result.completed:
        metrics.emit_values({"Purchases": 1, "UnitsSold": result.quantity},
                            item=result.item_name)
        log.info("purchase #%d: sold %d x %s, %d left%s", result.purchase_id, result.quantity,
                 result.item_name, result.remaining, reorder)
    elif result.backorder is not None:
        metrics.emit("Backorders", item=result.item_name)
        log.info("purchase #%d backordered: %d x %s wanted, %d in stock, backorder #%d%s",
                 result.purchase_id, result.quantity, result.item_name, result.remaining,
                 result.backorder["backorder_id"], reorder)
    else:
        metrics.emit("Shortages", item=result.item_name)
        log.info("purchase #%d short: %d x %s wanted, %d in stock%s", result.purchase_id,
                 result.quantity, result.item_name, result.remaining, reorder)


def _sell(uow: UnitOfWork, item_key: str | int, quantity: int, requester: str,
          backorder: Backordering | None = None) -> PurchaseResult:
    """The sale itself, inside the caller's transaction (it commits). Core statements
    (adapters.sales), not the ORM: the item row's lock is held from the decrement to the
    commit, and every statement and every line of Python in between is time other buyers of the
    item wait. So the purchase row is written first, as the sale it most often is, and settled
    below when it is not: a warm sale holds the lock for the ledger INSERT and the COMMIT only."""
    connection = uow.connection  # no Session unless a rarer path below needs the ORM
    item = sales.sale_item(connection, item_key)
    if item is None:
        raise ItemNotFound(item_key)
    purchase_id = sales.open_purchase(connection, item, quantity, requester)
    opened_for = item.item_id
    # Locks the row until the commit when it matches (see the docstring).
    decremented = sales.decrement(connection, item, quantity)
    after: tuple[int, int] | None = None
    if decremented is None:
        # A decrement that matched nothing locked nothing: lock the row and read the stock the
        # shortage found.
        after = sales.locked_stock(connection, item)
        if after is None:  # not there as this process knew it: ask the database
            item = sales.sale_item(connection, item_key, kept=False)
            if item is None:
                raise ItemNotFound(item_key)
            after = sales.locked_stock(connection, item)
            assert after is not None  # just read, and items are never deleted
        if sellable(*after) >= quantity:
            # A restock committed between the decrement and the lock: sell from it (we hold the
            # lock now, so this one matches) rather than answer short or backorder what is there.
            decremented = sales.decrement(connection, item, quantity)
            assert decremented is not None  # the row is ours and holds enough
    sold = decremented is not None
    if decremented is not None:
        remaining, owed = decremented.remaining, decremented.owed
    else:
        assert after is not None  # read above when the decrement matched nothing
        remaining, owed = after
    order, placed = None, None
    if decremented is not None:
        if remaining == 0:
            _emit_stock_event(uow, "stock.depleted", item, remaining)
        if decremented.reorder:
            order = _ensure_replenishment(uow, sales.item_facts(connection, item.item_id),
                                          remaining - owed, 0, requester, "reorder_point")
    elif backorder:
        facts = sales.item_facts(connection, item.item_id)
        if quantity > facts.rule.max_order:  # nothing is written: the transaction rolls back
            raise BackorderTooLarge(
                f"A backorder of {quantity} is more than {item.name}'s maximum order quantity "
                f"({facts.rule.max_order}); buy what is in stock or order less.")
        session = uow.session  # joins the connection's transaction
        locked = _lock_item(session, item.item_id)  # place() takes the model; the row is ours
        assert locked is not None  # locked above (locked_stock), so it is still there
        waiting = backorders.place(session, locked, quantity, requester, backorder.email)
        owed += quantity
        # Sized from stock less everything owed, this one included: the order covers the
        # backorders plus the target (or, if one is open already, the next order does).
        order = _ensure_replenishment(uow, facts, remaining - owed, 0, requester, "backorder")
        placed = backorders.as_dict(waiting, backorders.position(session, waiting), item.name)
    else:
        available = sellable(remaining, owed)
        order = _ensure_replenishment(uow, sales.item_facts(connection, item.item_id),
                                      remaining - owed, quantity - available, requester,
                                      "shortage")
    status = "completed" if sold else "backordered" if backorder else "short"
    if not sold or order is not None or item.item_id != opened_for:
        sales.settle_purchase(connection, purchase_id, item.item_id, status,
                              None if sold else remaining,
                              order.replenishment_order_id if order else None)
    if sold:
        sales.record_sale_in_ledger(connection, item.item_id, quantity, remaining, purchase_id)
    return PurchaseResult(sold, purchase_id, item.item_id, item.name, quantity, remaining,
                          resources.REPLENISHMENT.dump(order) if order else None,
                          sellable(remaining, owed), placed)


def forget_idempotency_keys(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Delete Idempotency-Keys older than KEEP_IDEMPOTENCY_KEYS; how many."""
    cutoff = (now or utcnow()) - KEEP_IDEMPOTENCY_KEYS
    with uow:
        forgotten = idempotency_keys.forget_keys_before(uow.session, cutoff)
        uow.commit()
    return forgotten



def _ensure_replenishment(uow: UnitOfWork, item: sales.ItemFacts, on_hand: int, shortfall: int,
                          requester: str, trigger: str) -> ReplenishmentOrder:
    session = uow.session
    open_order = session.scalar(select(ReplenishmentOrder)
                                .where(ReplenishmentOrder.open_item_id == item.item_id))
    if open_order is not None:
        return open_order
    # Never more than the rule's maximum order, however large the shortfall: one anonymous
    # purchase must not size production.
    quantity = reorder_quantity(item.rule, on_hand, 0, shortfall)
    now = utcnow()
    order = ReplenishmentOrder(item_id=item.item_id, open_item_id=item.item_id, quantity=quantity,
                               status=replenishment.INITIAL, trigger=trigger, requester=requester,
                               request_count=1, created_at=now, requested_at=now)
    session.add(order)
    session.flush()  # the unique index on open_item_id stops a second open order here
    uow.emit(new_event("replenishment.requested", {
        "replenishment_order_id": order.replenishment_order_id, "item_id": item.item_id,
        "item_name": item.name, "factory_id": item.factory_id, "factory_name": item.factory_name,
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
                  replenishment_order_id: int | None, consumer: str = "delivery", *,
                  production_order_id: int | None = None,
                  factory_id: int | None = None) -> ReceiveResult:
    """Apply a factory's completion once per event id. Stock moves only when it names an open
    replenishment order of the same item, from that item's factory, under the production order
    the factory accepted, for no more than was ordered (domain.replenishment.judge_completion;
    `production_order_id` / `factory_id` None: not compared). Then: stock += quantity, a
    `restock` ledger row, the order fulfilled with what arrived; a short delivery reorders at
    once if stock is still below the reorder point. Anything else changes no stock: it is
    recorded as a delivery anomaly and e-mailed to the operator (`delivery.anomaly`). An item
    the shop does not know raises ItemNotFound (retried, then dead-lettered).

    The common case (nothing owed to backorders, the whole order arrived) is one statement per
    step, as plain SQL would be: the delivery consumer runs it for every completion."""
    check_quantity(quantity)
    with uow:
        # Plain statements, no ORM objects (and so no Session) unless backorders or a reorder
        # need the item's model below.
        rows = uow.connection
        if not first_delivery(rows, ShopProcessedEvent, consumer, event_id):
            return ReceiveResult(False, item_id)
        item = restocks.lock_item_and_order(rows, item_id, replenishment_order_id)
        if item is None:
            # Not judged at all: retried, then dead-lettered, so an operator sees it, can fix the
            # catalogue and redrive it (then it is judged like any other completion).
            raise ItemNotFound(item_id)
        order = item.order
        facts = None
        if order is not None:
            ordered_factory = (item.factory_id if item_id == order.item_id else
                               rows.scalar(select(Item.factory_id)
                                           .where(Item.item_id == order.item_id)))
            facts = replenishment.OrderFacts(order.status, order.item_id,
                                             ordered_factory if ordered_factory else -1,
                                             order.quantity, order.factory_reference)
        completion = replenishment.Completion(
            replenishment_order_id or 0,
            production_order_id if production_order_id is not None else -1, item_id,
            factory_id if factory_id is not None else (facts.factory_id if facts else -1),
            quantity)
        if production_order_id is None and facts is not None:  # nothing to compare it with
            facts = dataclasses.replace(facts, factory_reference=None)
        verdict = replenishment.judge_completion(facts, completion)
        if isinstance(verdict, replenishment.Anomaly):
            anomaly = _record_anomaly(uow, event_id, verdict, facts, completion)
            uow.commit()
            metrics.emit("DeliveryAnomalies")  # the kind is in the log line and the row
            log.warning("production.completed %s changed no stock: %s", event_id, anomaly)
            return ReceiveResult(True, item_id, anomaly=verdict.value)
        assert order is not None and replenishment_order_id  # judged a delivery: an open order
        before, after = item.quantity, item.quantity + quantity
        now = utcnow()
        restocks.restock(rows, item_id, quantity, after, event_id, replenishment_order_id,
                         replenishment.next_status(order.status, Action.RECEIVE,
                                                   replenishment_order_id), now)
        short = verdict is replenishment.Delivery.SHORT
        if item.backordered > 0 or short:
            # Backorders to fill, or a reorder to weigh: the item as the use cases share it
            # (its row already locked and raised to `after` in this transaction).
            session = uow.session  # joins the transaction of `rows`
            restocked = session.get_one(Item, item_id)
            _fill_backorders(uow, restocked, before)
            if short and needs_reorder(rule_of(restocked), restocked.quantity):
                # The factory makes an order in one batch: the rest is not coming. Order again.
                requester = session.scalars(select(ReplenishmentOrder.requester).where(
                    ReplenishmentOrder.replenishment_order_id == replenishment_order_id)).one()
                _ensure_replenishment(uow, _facts(restocked), restocked.quantity, 0, requester,
                                      "reorder_point")
            after = restocked.quantity
        elif before == 0:  # what _fill_backorders says when no backorder waits
            uow.emit(new_event("stock.restocked", {"item_id": item_id, "item_name": item.name,
                                                   "quantity": after}))
        uow.commit()
    log.info("restocked item %d: +%d -> %d (replenishment order #%s, event %s)", item_id,
             quantity, after, replenishment_order_id, event_id)
    # requested -> fulfilled, per factory
    metrics.emit("ReplenishmentLeadTime", round((now - order.created_at).total_seconds(), 3),
                 unit="Seconds", factory=item.factory_name)
    return ReceiveResult(True, item_id, after, short=short)


def _record_anomaly(uow: UnitOfWork, event_id: str, kind: replenishment.Anomaly,
                    order: replenishment.OrderFacts | None,
                    completion: replenishment.Completion) -> str:
    """The anomaly row and its `delivery.anomaly` event (the operator's e-mail); the detail."""
    names = (f"replenishment order {completion.replenishment_order_id}"
             if completion.replenishment_order_id else "no replenishment order")
    detail = {
        replenishment.Anomaly.UNKNOWN_ORDER: f"{names}: no such order",
        replenishment.Anomaly.ORDER_ENDED: f"{names} is {order.status if order else '?'}",
        replenishment.Anomaly.WRONG_ITEM: f"{names} is for item {order.item_id if order else '?'}",
        replenishment.Anomaly.WRONG_FACTORY: f"{names}: item {completion.item_id} is not made "
                                             f"by factory {completion.factory_id}",
        replenishment.Anomaly.WRONG_PRODUCTION_ORDER: (
            f"{names} was accepted as production order "
            f"{order.factory_reference if order else '?'}"),
        replenishment.Anomaly.OVER_DELIVERY: (
            f"{names} asked for {order.quantity if order else '?'}"),
    }[kind]
    detail = (f"{completion.quantity} x item {completion.item_id} from production order "
              f"{completion.production_order_id}: {detail}; no stock changed")[:300]
    row = DeliveryAnomaly(event_id=event_id, kind=kind.value,
                          replenishment_order_id=completion.replenishment_order_id or None,
                          production_order_id=(completion.production_order_id
                                               if completion.production_order_id > 0 else None),
                          item_id=completion.item_id, quantity=completion.quantity, detail=detail)
    uow.session.add(row)
    uow.session.flush()
    uow.emit(new_event("delivery.anomaly", {
        "anomaly_id": row.anomaly_id, "kind": kind.value, "completion_event_id": event_id,
        "replenishment_order_id": row.replenishment_order_id,
        "production_order_id": row.production_order_id, "item_id": row.item_id,
        "quantity": row.quantity, "detail": detail}))
    return detail


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
        _ensure_replenishment(uow, _facts(item), item.quantity - item.backordered, 0,
                              "backorders", "backorder")
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
        return resources.ITEMS.dump(items)


def get_item(uow: UnitOfWork, item_id: int) -> dict:
    with uow:
        item = uow.session.get(Item, item_id)
        if item is None:
            raise ItemNotFound(item_id)
        return resources.ITEM.dump(item)


def list_replenishments(uow: UnitOfWork, status: str | None = None, limit: int = 100) -> list[dict]:
    with uow:
        newest_first = ReplenishmentOrder.replenishment_order_id.desc()
        query = select(ReplenishmentOrder).order_by(newest_first)
        if status:
            query = query.where(ReplenishmentOrder.status == status)
        return resources.REPLENISHMENTS.dump(uow.session.scalars(query.limit(limit)))


def get_replenishment(uow: UnitOfWork, replenishment_order_id: int) -> dict:
    with uow:
        order = uow.session.get(ReplenishmentOrder, replenishment_order_id)
        if order is None:
            raise ReplenishmentNotFound(replenishment_order_id)
        return resources.REPLENISHMENT.dump(order)


def ledger_balance(uow: UnitOfWork, item_id: int) -> int:
    with uow:
        return uow.session.scalars(select(func.coalesce(func.sum(StockLedgerEntry.delta), 0))
                                   .where(StockLedgerEntry.item_id == item_id)).one()
