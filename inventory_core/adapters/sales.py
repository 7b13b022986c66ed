"""The sale's SQL: a handful of Core statements on the session's connection, no ORM unit of work.

A purchase is the shop's hottest path and its item row the most contended lock: the ORM's joined
load, identity map and flushes cost more than the statements themselves (docs/benchmarks.md), so
the sale (shop_service._sell) runs these instead, on the DBAPI cursor (adapters.driver). The
rarer paths around it (a shortage's replenishment order, a backorder) still use the models.
Each takes the connection of the caller's transaction (its session's, `session.connection()`,
asked for once: the caller commits)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from inventory_core.adapters import driver
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    Factory,
    Item,
    Purchase,
    ReorderRule,
    StockLedgerEntry,
)
from inventory_core.domain.stock import DEFAULT_RULE, Rule

_items, _rules = cast(Table, Item.__table__), cast(Table, ReorderRule.__table__)
_factories = cast(Table, Factory.__table__)


@dataclass(frozen=True)
class SaleItem:
    """What every sale needs to know of its item besides the stock: its id, its name and when to
    reorder it (DEFAULT_RULE's point when it has no rule of its own)."""
    item_id: int
    name: str
    reorder_point: int


@dataclass(frozen=True)
class ItemFacts:
    """What ordering its replenishment needs to know of an item: its factory and whole rule."""
    item_id: int
    name: str
    factory_id: int
    factory_name: str
    rule: Rule


_FACTS = (select(_items.c.item_id, _items.c.name, _items.c.factory_id, _factories.c.name,
                 _rules.c.reorder_point, _rules.c.target_level, _rules.c.multiple,
                 _rules.c.max_order_quantity)
          .join(_factories, _factories.c.factory_id == _items.c.factory_id)
          .outerjoin(_rules, _rules.c.item_id == _items.c.item_id))
_FACTS_BY_ID = _FACTS.where(_items.c.item_id == bindparam("key"))
# The sale's own read: three columns (every column costs the driver a descriptor to parse).
_SALE_ITEM = (select(_items.c.item_id, _items.c.name, _rules.c.reorder_point)
              .outerjoin(_rules, _rules.c.item_id == _items.c.item_id))
_SALE_ITEM_BY_ID = _SALE_ITEM.where(_items.c.item_id == bindparam("key"))
_SALE_ITEM_BY_NAME = _SALE_ITEM.where(_items.c.name == bindparam("key"))

# Only from stock no waiting backorder is owed (items.backordered): of many concurrent buyers,
# only those the stock covers match.
_DECREMENT = (update(_items)
              .where(_items.c.item_id == bindparam("id"),
                     _items.c.quantity - _items.c.backordered >= bindparam("n")))
# The sale needs the stock after it (on hand and owed) while it holds the row. SQLite answers
# with UPDATE ... RETURNING. MySQL and MariaDB have no RETURNING on UPDATE, but an UPDATE that
# sets LAST_INSERT_ID(expr) gets expr back in its own OK packet (the DBAPI's `lastrowid`; the
# documented "sequence" idiom): a second statement, and a round trip while every other buyer of
# the item waits, saved. Both numbers fit one BIGINT: each is an INT column that is never
# negative here (the WHERE leaves quantity - n >= backordered >= 0).
_PACK = 2 ** 32
_DECREMENT_RETURNING = (_DECREMENT.values(quantity=_items.c.quantity - bindparam("n"))
                        .returning(_items.c.quantity, _items.c.backordered))
_DECREMENT_MYSQL = _DECREMENT.values(quantity=func.last_insert_id(
    (_items.c.quantity - bindparam("n")) * _PACK + _items.c.backordered).op("DIV")(_PACK))
_LOCKED_STOCK = (select(_items.c.quantity, _items.c.backordered)
                 .where(_items.c.item_id == bindparam("id")).with_for_update())
_PURCHASE_COLUMNS = ("item_id", "quantity", "requester", "status", "remaining",
                     "replenishment_order_id", "created_at")
_PURCHASE = insert(cast(Table, Purchase.__table__)).values(
    {name: bindparam(name) for name in _PURCHASE_COLUMNS})
_LEDGER_COLUMNS = ("item_id", "delta", "quantity_after", "reason", "reference", "created_at")
_LEDGER = insert(cast(Table, StockLedgerEntry.__table__)).values(
    {name: bindparam(name) for name in _LEDGER_COLUMNS})


def sale_item(connection: Connection, key: str | int) -> SaleItem | None:
    """The item a name (the seed's way) or an id names, unlocked (nothing in it changes with the
    stock); None when there is no such item."""
    by_id = isinstance(key, int) and not isinstance(key, bool)
    row = driver.run(connection, _SALE_ITEM_BY_ID if by_id else _SALE_ITEM_BY_NAME,
                     {"key": key}).row
    if row is None:
        return None
    item_id, name, point = row
    return SaleItem(item_id, name, DEFAULT_RULE.reorder_point if point is None else point)


def item_facts(connection: Connection, item_id: int) -> ItemFacts:
    """An item's factory and reorder rule (a sale that orders or backorders needs them)."""
    row = connection.execute(_FACTS_BY_ID, {"key": item_id}).one()
    item_id, name, factory_id, factory_name, point, target, multiple, max_order = row
    rule = DEFAULT_RULE if point is None else Rule(point, target, multiple, max_order)
    return ItemFacts(item_id, name, factory_id, factory_name, rule)


def decrement(connection: Connection, item_id: int, quantity: int) -> tuple[int, int] | None:
    """The conditional decrement: (on hand, owed to backorders) after it, or None when the stock
    did not cover it. When it matches, InnoDB holds the row's exclusive lock until the
    transaction ends; when it does not, it holds none (READ COMMITTED)."""
    params = {"id": item_id, "n": quantity}
    if connection.dialect.name != "mysql":
        row = driver.run(connection, _DECREMENT_RETURNING, params).row
        return None if row is None else (row[0], row[1])
    outcome = driver.run(connection, _DECREMENT_MYSQL, params)
    if outcome.rowcount != 1 or outcome.lastrowid is None:
        return None
    return outcome.lastrowid // _PACK, outcome.lastrowid % _PACK


def locked_stock(connection: Connection, item_id: int) -> tuple[int, int]:
    """(on hand, owed to backorders), the row locked until the transaction ends (SELECT ... FOR
    UPDATE; SQLite's BEGIN IMMEDIATE holds the whole database already)."""
    quantity, owed = connection.execute(_LOCKED_STOCK, {"id": item_id}).one()
    return quantity, owed


def record_purchase(connection: Connection, item_id: int, quantity: int, requester: str,
                    status: str, remaining: int, replenishment_order_id: int | None) -> int:
    """The purchase row; its id."""
    purchase_id = driver.run(connection, _PURCHASE, {
        "item_id": item_id, "quantity": quantity, "requester": requester, "status": status,
        "remaining": remaining, "replenishment_order_id": replenishment_order_id,
        "created_at": utcnow()}).lastrowid
    assert purchase_id is not None  # a single-row INSERT into an auto-increment key
    return purchase_id


def record_sale_in_ledger(connection: Connection, item_id: int, quantity: int, remaining: int,
                          purchase_id: int) -> None:
    driver.run(connection, _LEDGER, {
        "item_id": item_id, "delta": -quantity, "quantity_after": remaining, "reason": "sale",
        "reference": f"purchase:{purchase_id}", "created_at": utcnow()})
