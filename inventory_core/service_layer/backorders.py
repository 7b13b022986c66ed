"""Backorders: a purchase taken while stock is short, filled from the next restock.

Every change to an item's backorders happens under the item's row lock (SELECT … FOR UPDATE on
`items`), and `items.backordered` (the units owed) changes in the same transaction:
- `place` (in the purchase's transaction) adds a waiting backorder and its units to the owed;
- `fill_waiting` (in the restock's transaction) fills them oldest first, each as a purchase with
  its ledger row, and takes their units off the owed;
- `cancel` (an operator) takes a waiting one off.
So a restock and a cancel of one item run one after the other, and a backorder is filled or
cancelled once. A plain sale's conditional decrement (shop_service._sell) sells only
`quantity - backordered`, so it can never take units a waiting backorder is owed.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import lazyload

from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import Backorder, Item, Purchase, StockLedgerEntry
from inventory_core.domain.backorders import Waiting, fifo_fill
from inventory_core.domain.errors import Conflict, NotFound
from inventory_core.domain.events import new_event
from inventory_core.service_layer import resources
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

STATUSES = ("waiting", "filled", "cancelled")


class BackorderNotFound(NotFound):
    def __init__(self, backorder_id: int) -> None:
        super().__init__(f"Backorder {backorder_id} does not exist.")


class BackorderEnded(Conflict):
    """Only a waiting backorder can be cancelled."""


def _locked_item(session, item_id: int) -> Item | None:
    # The item's row only (see shop_service._lock_item for why not its joined loads).
    return session.get(Item, item_id, with_for_update=True, options=[lazyload("*")])


def positions(session, rows: Iterable[Backorder]) -> dict[int, int]:
    """The place of each waiting one of `rows` in its item's queue (1: filled next), by id, in
    one query: its row number among the item's waiting backorders, oldest first."""
    waiting = [b for b in rows if b.status == "waiting"]
    if not waiting:
        return {}
    queue = (select(Backorder.backorder_id,
                    func.row_number().over(partition_by=Backorder.item_id,
                                           order_by=Backorder.backorder_id).label("place"))
             .where(Backorder.status == "waiting",
                    Backorder.item_id.in_({b.item_id for b in waiting}))
             .subquery())
    return dict(session.execute(select(queue.c.backorder_id, queue.c.place).where(
        queue.c.backorder_id.in_([b.backorder_id for b in waiting]))).all())


def position(session, backorder: Backorder) -> int | None:
    """Its place in the item's queue, 1 for the next to be filled; None unless waiting."""
    return positions(session, [backorder]).get(backorder.backorder_id)


def as_dict(backorder: Backorder, queue_position: int | None = None,
            item_name: str | None = None) -> dict:
    """Its public form (resources.Backorder)."""
    return resources.BACKORDER.dump_with(backorder, position=queue_position, item_name=item_name)


def place(session, item: Item, quantity: int, requester: str, email: str | None) -> Backorder:
    """A waiting backorder, inside the caller's transaction, which holds the item's row lock."""
    session.execute(update(Item).where(Item.item_id == item.item_id)
                    .values(backordered=Item.backordered + quantity)
                    .execution_options(synchronize_session=False))
    backorder = Backorder(item_id=item.item_id, quantity=quantity, requester=requester,
                          email=email, status="waiting")
    session.add(backorder)
    session.flush()
    return backorder


def fill_waiting(uow: UnitOfWork, item: Item) -> list[Backorder]:
    """Fill the item's waiting backorders from its stock, oldest first, inside the caller's
    transaction (the restock's), which holds the item's row lock and has just added the stock.
    Each is a completed purchase with a `sale` ledger row and a `backorder.filled` event (the
    requester is e-mailed by the notify consumer where they gave an address)."""
    session = uow.session
    waiting = list(session.scalars(
        select(Backorder).where(Backorder.item_id == item.item_id, Backorder.status == "waiting")
        .order_by(Backorder.backorder_id)))
    plan = {w.backorder_id for w in fifo_fill(
        item.quantity, [Waiting(b.backorder_id, b.quantity) for b in waiting])}
    filled = [b for b in waiting if b.backorder_id in plan]
    now = utcnow()
    for backorder in filled:
        item.quantity -= backorder.quantity
        item.backordered -= backorder.quantity
        sale = Purchase(item_id=item.item_id, quantity=backorder.quantity,
                        requester=backorder.requester, status="completed",
                        remaining=item.quantity)
        session.add(sale)
        session.flush()
        session.add(StockLedgerEntry(item_id=item.item_id, delta=-backorder.quantity,
                                     quantity_after=item.quantity, reason="sale",
                                     reference=f"backorder:{backorder.backorder_id}"))
        backorder.status, backorder.filled_at = "filled", now
        backorder.purchase_id = sale.purchase_id
        uow.emit(new_event("backorder.filled", {
            "backorder_id": backorder.backorder_id, "item_id": item.item_id,
            "item_name": item.name, "quantity": backorder.quantity,
            "requester": backorder.requester, "purchase_id": sale.purchase_id}))
    return filled


@retry_transient
def cancel(uow: UnitOfWork, backorder_id: int) -> dict:
    """An operator cancels a waiting backorder: its units are no longer owed, and the stock it
    held goes to the next in line (or back on the shelf). BackorderEnded when it was filled or
    cancelled already."""
    with uow:
        session = uow.session
        item_id = session.scalar(select(Backorder.item_id)
                                 .where(Backorder.backorder_id == backorder_id))
        if item_id is None:
            raise BackorderNotFound(backorder_id)
        item = _locked_item(session, item_id)  # first the item, as a restock does: no deadlock
        backorder = session.get_one(Backorder, backorder_id, populate_existing=True)
        if backorder.status != "waiting":
            raise BackorderEnded(f"backorder {backorder_id} is {backorder.status} already")
        assert item is not None  # the foreign key keeps it
        item.backordered -= backorder.quantity
        backorder.status, backorder.cancelled_at = "cancelled", utcnow()
        uow.emit(new_event("backorder.cancelled", {
            "backorder_id": backorder.backorder_id, "item_id": item.item_id,
            "item_name": item.name, "quantity": backorder.quantity,
            "requester": backorder.requester}))
        result = as_dict(backorder, None, item.name)
        # The next in line may fit the stock the cancelled one was holding: fill it now rather
        # than at the next restock.
        fill_waiting(uow, item)
        uow.commit()
    return result


# --- reads -------------------------------------------------------------------------------------

def list_backorders(uow: UnitOfWork, item_id: int | None = None, status: str | None = None,
                    limit: int = 100) -> list[dict]:
    """Oldest first (the order they are filled in)."""
    with uow:
        session = uow.session
        query = select(Backorder).order_by(Backorder.backorder_id).limit(limit)
        if item_id is not None:
            query = query.where(Backorder.item_id == item_id)
        if status:
            query = query.where(Backorder.status == status)
        return described(session, list(session.scalars(query)))


def get_backorder(uow: UnitOfWork, backorder_id: int) -> dict:
    with uow:
        backorder = uow.session.get(Backorder, backorder_id)
        if backorder is None:
            raise BackorderNotFound(backorder_id)
        return described(uow.session, [backorder])[0]


def described(session, rows: list[Backorder]) -> list[dict]:
    """`rows` in their public form, with their queue places and item names: two queries for
    all of them, not a count query per backorder."""
    if not rows:
        return []
    places = positions(session, rows)
    names = dict(session.execute(select(Item.item_id, Item.name).where(
        Item.item_id.in_({b.item_id for b in rows}))).all())
    return [as_dict(b, places.get(b.backorder_id), names.get(b.item_id)) for b in rows]


def waiting_by_item(session, now: datetime) -> dict[int, dict]:
    """Per item with waiting backorders: how many, the units owed, the oldest one's age."""
    rows = session.execute(select(Backorder.item_id, func.count(), func.sum(Backorder.quantity),
                                  func.min(Backorder.created_at))
                           .where(Backorder.status == "waiting").group_by(Backorder.item_id))
    return {item_id: {"waiting": count, "owed": int(owed or 0),
                      "oldest_age_seconds": _age(now, oldest)}
            for item_id, count, owed, oldest in rows}


def _age(now: datetime, since) -> int | None:
    if since is None:
        return None
    if isinstance(since, str):  # an aggregate skips the column type on some backends
        since = datetime.fromisoformat(since)
    if since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    return max(0, int((now - since).total_seconds()))
