"""The sale's SQL: a handful of Core statements on the transaction's connection, no ORM.

A purchase is the shop's hottest path and its item row the most contended lock: the ORM's joined
load, identity map and flushes cost more than the statements themselves (docs/benchmarks.md), so
the sale (shop_service._sell) runs these instead, on the DBAPI cursor (adapters.driver). The
rarer paths around it (a shortage's replenishment order, a backorder) still use the models.
Each takes the connection of the caller's transaction (its unit of work's `connection`: the
caller commits). A warm sale is three statements: the purchase INSERT, the decrement (which
also decides the reorder) and the ledger INSERT. The purchase goes first, before the item's row is
locked: every statement after the decrement is time every other buyer of the item waits, and the
purchase row needs nothing the decrement learns (purchases.item_id has no foreign key, whose
shared lock on the item would deadlock two buyers upgrading it; see open_purchase)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnClause,
    Connection,
    Engine,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    null,
    select,
    update,
)

from inventory_core.adapters import driver
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    Factory,
    Item,
    Purchase,
    ReorderRule,
    StockLedgerEntry,
)
from inventory_core.domain.stock import DEFAULT_RULE, Rule, below_reorder_point

_items, _rules = cast(Table, Item.__table__), cast(Table, ReorderRule.__table__)
_factories = cast(Table, Factory.__table__)


@dataclass(frozen=True)
class SaleItem:
    """Who an item is: its id and name (never changed once made: items are neither renamed nor
    deleted, so a process may keep them; see sale_item)."""
    item_id: int
    name: str


@dataclass(frozen=True)
class Decremented:
    """The stock after a sale's decrement: on hand, owed to waiting backorders, and whether what
    is left to sell (on hand less owed) is below the item's reorder point (its rule's, or
    DEFAULT_RULE's: domain.stock.below_reorder_point, decided in the same statement)."""
    remaining: int
    owed: int
    reorder: bool


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
# The sale's own read: two columns (every column costs the driver a descriptor to parse).
_SALE_ITEM = select(_items.c.item_id, _items.c.name)
_SALE_ITEM_BY_ID = _SALE_ITEM.where(_items.c.item_id == bindparam("key"))
_SALE_ITEM_BY_NAME = _SALE_ITEM.where(_items.c.name == bindparam("key"))
_THE_ITEM = (_items.c.item_id == bindparam("id")) & (_items.c.name == bindparam("item_name"))

# Only from stock no waiting backorder is owed (items.backordered): of many concurrent buyers,
# only those the stock covers match. The name too: a kept SaleItem that names another row (a
# database recreated under a running process) matches nothing rather than sell the wrong item.
_DECREMENT = update(_items).where(_THE_ITEM,
                                  _items.c.quantity - _items.c.backordered >= bindparam("n"))
# domain.stock.below_reorder_point (left to sell < point), with the item's point read in the
# statement: the sale needs no read of the rule unless it orders.
_POINT = func.coalesce(select(_rules.c.reorder_point).where(_rules.c.item_id == _items.c.item_id)
                       .scalar_subquery(), literal_column(str(DEFAULT_RULE.reorder_point)))
# The sale needs the stock after it (on hand and owed) and the reorder decision while it holds
# the row. SQLite answers with UPDATE ... RETURNING. MySQL and MariaDB have no RETURNING on
# UPDATE, but an UPDATE that sets LAST_INSERT_ID(expr) gets expr back in its own OK packet (the
# DBAPI's `lastrowid`; the documented "sequence" idiom): a second statement, and a round trip
# while every other buyer of the item waits, saved. All three fit one BIGINT UNSIGNED: on hand
# in the high 32 bits, owed in the next 31, the decision in the lowest; both numbers are INT
# columns that are never negative here (the WHERE leaves quantity - n >= backordered >= 0).
_PACK, _OWED_BITS = 2 ** 32, 2 ** 31 - 1
# The constants written in the SQL, not bound: nothing to escape for them on every sale.
_PACK_SQL: ColumnClause[int] = literal_column(str(_PACK))
_DECREMENT_RETURNING = (_DECREMENT.values(quantity=_items.c.quantity - bindparam("n"))
                        .returning(_items.c.quantity, _items.c.backordered))
# SQLite's RETURNING names columns unqualified, which would turn the subquery's correlation into
# reorder_rules.item_id = itself: there, the point is read apart.
_POINT_OF_ITEM = select(_POINT).where(_items.c.item_id == bindparam("id"))
_LEFT = _items.c.quantity - bindparam("n")  # in MySQL's SET, columns are read before it
_DECREMENT_MYSQL = _DECREMENT.values(quantity=func.last_insert_id(
    _LEFT * _PACK_SQL + _items.c.backordered * literal_column("2")
    + (_LEFT - _items.c.backordered < _POINT)).op("DIV")(_PACK_SQL))
_LOCKED_STOCK = (select(_items.c.quantity, _items.c.backordered).where(_THE_ITEM)
                 .with_for_update())
_purchases = cast(Table, Purchase.__table__)
# What open_purchase always writes is in the SQL, not bound: nothing to escape per sale.
_PURCHASE = insert(_purchases).values(
    {name: bindparam(name) for name in ("item_id", "quantity", "requester", "created_at")}
    | {"status": literal_column("'completed'"), "remaining": null(),
       "replenishment_order_id": null()})
_SETTLE = update(_purchases).where(_purchases.c.purchase_id == bindparam("id")).values(
    {name: bindparam(name) for name in ("item_id", "status", "remaining",
                                        "replenishment_order_id")})
_LEDGER = driver.insert_of(StockLedgerEntry, ("item_id", "delta", "quantity_after", "reason",
                                               "reference", "created_at"))


# {engine: {id or name: SaleItem}}: a purchase need not read who its item is once this process
# has sold it (a round trip, and the database's time, on the path of every sale).
_known: WeakKeyDictionary[Engine, dict[str | int, SaleItem]] = WeakKeyDictionary()
_KNOWN_MAX = 10_000  # items per database; past it the map starts again


def sale_item(connection: Connection, key: str | int, *, kept: bool = True) -> SaleItem | None:
    """The item a name (the seed's way) or an id names; None when there is no such item. `kept`:
    as this process last read it, if it has (the statements below check the name, so a kept
    item that is no longer so matches nothing: ask again with kept=False)."""
    by_id = isinstance(key, int) and not isinstance(key, bool)
    known = _known.get(connection.engine)  # get first: setdefault makes a weakref each call
    if known is None:
        known = _known.setdefault(connection.engine, {})
    if kept and (found := known.get(key)) is not None:
        return found
    row = driver.run(connection, _SALE_ITEM_BY_ID if by_id else _SALE_ITEM_BY_NAME,
                     {"key": key}).row
    if row is None:
        known.pop(key, None)
        return None
    if len(known) >= _KNOWN_MAX:
        known.clear()
    item = known[key] = SaleItem(*row)
    return item


def item_facts(connection: Connection, item_id: int) -> ItemFacts:
    """An item's factory and reorder rule (a sale that orders or backorders needs them)."""
    row = connection.execute(_FACTS_BY_ID, {"key": item_id}).one()
    item_id, name, factory_id, factory_name, point, target, multiple, max_order = row
    rule = DEFAULT_RULE if point is None else Rule(point, target, multiple, max_order)
    return ItemFacts(item_id, name, factory_id, factory_name, rule)


def decrement(connection: Connection, item: SaleItem, quantity: int) -> Decremented | None:
    """The conditional decrement, or None when the stock did not cover it (or `item` is not
    there as named). When it matches, InnoDB holds the row's exclusive lock until the
    transaction ends; when it does not, it holds none (READ COMMITTED)."""
    params = {"id": item.item_id, "item_name": item.name, "n": quantity}
    if connection.dialect.name != "mysql":
        row = driver.run(connection, _DECREMENT_RETURNING, params).row
        if row is None:
            return None
        point = connection.execute(_POINT_OF_ITEM, {"id": item.item_id}).scalar_one()
        return Decremented(row[0], row[1], below_reorder_point(point, row[0] - row[1]))
    outcome = driver.run(connection, _DECREMENT_MYSQL, params)
    if outcome.rowcount != 1 or outcome.lastrowid is None:
        return None
    packed = outcome.lastrowid
    return Decremented(packed // _PACK, (packed >> 1) & _OWED_BITS, bool(packed & 1))


def locked_stock(connection: Connection, item: SaleItem) -> tuple[int, int] | None:
    """(on hand, owed to backorders), the row locked until the transaction ends (SELECT ... FOR
    UPDATE; SQLite's BEGIN IMMEDIATE holds the whole database already); None when `item` is not
    there as named."""
    row = connection.execute(_LOCKED_STOCK, {"id": item.item_id, "item_name": item.name}).first()
    return None if row is None else (row[0], row[1])


def open_purchase(connection: Connection, item: SaleItem, quantity: int, requester: str) -> int:
    """The purchase row, written as the sale it will most likely be (completed, nothing ordered;
    the stock after it is its ledger row's) before the decrement locks the item; its id. If it
    turns out otherwise, settle_purchase says how. It needs no foreign key to be sound: it
    commits only with the decrement or the lock that found its item (items are never deleted),
    and the rest roll it back (ItemNotFound)."""
    purchase_id = driver.run(connection, _PURCHASE, {
        "item_id": item.item_id, "quantity": quantity, "requester": requester,
        "created_at": utcnow()}).lastrowid
    assert purchase_id is not None  # a single-row INSERT into an auto-increment key
    return purchase_id


def settle_purchase(connection: Connection, purchase_id: int, item_id: int, status: str,
                    remaining: int | None, replenishment_order_id: int | None) -> None:
    """What open_purchase could not know: the item as the database named it (if this process's
    kept one was stale), a purchase that sold nothing (short, backordered: `remaining` the stock
    it found), the replenishment order it joined."""
    driver.run(connection, _SETTLE, {
        "id": purchase_id, "item_id": item_id, "status": status, "remaining": remaining,
        "replenishment_order_id": replenishment_order_id})


def record_sale_in_ledger(connection: Connection, item_id: int, quantity: int, remaining: int,
                          purchase_id: int) -> None:
    record_in_ledger(connection, item_id, -quantity, remaining, "sale", f"purchase:{purchase_id}",
                     utcnow())


def record_in_ledger(connection: Connection, item_id: int, delta: int, quantity_after: int,
                     reason: str, reference: str, at: datetime) -> None:
    """One stock_ledger row, on the DBAPI cursor: a sale's, or a restock's (adapters.restocks)."""
    driver.run(connection, _LEDGER, {
        "item_id": item_id, "delta": delta, "quantity_after": quantity_after, "reason": reason,
        "reference": reference, "created_at": at})
