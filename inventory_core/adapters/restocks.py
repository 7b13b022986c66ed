"""The restock's SQL: the statements a matching completion runs (shop_service.receive_stock), on
the DBAPI cursor (adapters.driver), as the sale's are (adapters.sales).

The delivery consumer runs them for every `production.completed`; through SQLAlchemy's execution
machinery each cost about as much Python as its round trip (docs/benchmarks.md, issue 12). The
rarer paths after a restock (backorders to fill, a short delivery's reorder) use the models.
Each takes the connection of the caller's transaction; the caller commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, null, select, update

from inventory_core.adapters import driver, sales
from inventory_core.adapters.models.shop import Factory, Item, ReplenishmentOrder

_items, _orders = cast(Table, Item.__table__), cast(Table, ReplenishmentOrder.__table__)
_factories = cast(Table, Factory.__table__)


@dataclass(frozen=True)
class LockedOrder:
    """The replenishment order a completion names, as locked with its item."""
    status: str
    item_id: int  # the item it was opened for
    quantity: int  # ordered
    factory_reference: str | None  # the production order the factory accepted it as
    created_at: datetime  # aware UTC


@dataclass(frozen=True)
class LockedItem:
    """The item a completion names, its row locked until the transaction ends."""
    quantity: int
    backordered: int
    name: str
    factory_id: int
    factory_name: str  # for the lead-time metric
    order: LockedOrder | None  # None: no order named, or no such order


# The factory's name comes from a subquery, which takes no lock on the factory's row (MariaDB and
# MySQL lock a subquery's rows only when it says FOR UPDATE itself): restocks of one factory's
# items do not wait for each other (tests/integration/test_restock_path.py).
_ITEM_FACTS = (_items.c.quantity, _items.c.backordered, _items.c.name, _items.c.factory_id,
               select(_factories.c.name).where(_factories.c.factory_id == _items.c.factory_id)
               .scalar_subquery().label("factory_name"))
_ORDER_FACTS = (_orders.c.status, _orders.c.item_id.label("ordered_item_id"),
                _orders.c.quantity.label("ordered_quantity"), _orders.c.factory_reference,
                _orders.c.created_at)
LOCK_ITEM = select(*_ITEM_FACTS).where(_items.c.item_id == bindparam("key")).with_for_update()
# The item and the order, both locked by one statement (the item first, as a sale locks them:
# the order is the inner side of an outer join).
LOCK_ITEM_AND_ORDER = (
    select(*_ITEM_FACTS, *_ORDER_FACTS)
    .outerjoin(_orders, _orders.c.replenishment_order_id == bindparam("order_key"))
    .where(_items.c.item_id == bindparam("key")).with_for_update())
_SET_STOCK = update(_items).where(_items.c.item_id == bindparam("key")).values(
    quantity=bindparam("new_quantity"))
_FULFIL = (update(_orders).where(_orders.c.replenishment_order_id == bindparam("key"))
           .values(status=bindparam("new_status"), open_item_id=null(),
                   fulfilled_at=bindparam("at"), received_quantity=bindparam("received")))


def lock_item_and_order(connection: Connection, item_id: int,
                        replenishment_order_id: int | None) -> LockedItem | None:
    """The item (None: the shop has no such item) and the order named (if any), both locked."""
    if replenishment_order_id:
        row = driver.run(connection, LOCK_ITEM_AND_ORDER,
                         {"key": item_id, "order_key": replenishment_order_id}).row
    else:
        row = driver.run(connection, LOCK_ITEM, {"key": item_id}).row
    if row is None:
        return None
    quantity, backordered, name, factory_id, factory_name, *order = row
    locked = None
    if order and order[0] is not None:  # the outer join found the order
        status, ordered_item, ordered, reference, created_at = order
        # The DBAPI's naive UTC, as UTCDateTime would have made it (SQLite's is made already).
        locked = LockedOrder(status, ordered_item, ordered, reference,
                             created_at.replace(tzinfo=UTC))
    return LockedItem(quantity, backordered, name, factory_id, factory_name, locked)


def restock(connection: Connection, item_id: int, quantity: int, after: int, event_id: str,
            replenishment_order_id: int, new_status: str, now: datetime) -> None:
    """Stock raised to `after` (the row locked by lock_item_and_order), its `restock` ledger
    row, and the order closed with what arrived."""
    driver.run(connection, _SET_STOCK, {"key": item_id, "new_quantity": after})
    sales.record_in_ledger(connection, item_id, quantity, after, "restock", f"event:{event_id}",
                           now)
    driver.run(connection, _FULFIL, {"key": replenishment_order_id, "received": quantity,
                                     "at": now, "new_status": new_status})
