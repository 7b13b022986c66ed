"""What the dashboard's charts show, as plain data (drawn by shop_api/charts.py):

- stock over time per item: `quantity_after` of its stock ledger rows over `created_at`, with the
  reorder point and target of its rule now (its own row, learned or manual, or DEFAULT_RULE; a
  learned rule's earlier values are not kept, so the lines are today's);
- replenishment lead time per factory, promised against actual, for its latest fulfilled orders:
  actual is requested (created_at) -> fulfilled, as the ReplenishmentLeadTime metric and the
  learned rules measure it; promised is requested -> the factory's due time (`due_at`, the latest
  promise the shop recorded: set on acceptance, moved when the factory reschedules). An order
  fulfilled before the factory's acceptance reached the shop has no promise.

Bounded however long the shop has run: at most MAX_ITEMS items with the last LEDGER_POINTS rows
of the last HISTORY_DAYS days each, MAX_FACTORIES factories with their last LEAD_TIME_ORDERS
orders. Read on page load only, not by the feed the page polls."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    Factory,
    Item,
    ReplenishmentOrder,
    StockLedgerEntry,
)
from inventory_core.service_layer.shop_service import rule_of
from inventory_core.service_layer.unit_of_work import UnitOfWork

MAX_ITEMS = 12
LEDGER_POINTS = 200
HISTORY_DAYS = 14
MAX_FACTORIES = 8
LEAD_TIME_ORDERS = 30


def chart_data(uow: UnitOfWork, now: datetime | None = None) -> dict:
    now = now or utcnow()
    since = now - timedelta(days=HISTORY_DAYS)
    with uow:
        session = uow.session
        items = list(session.scalars(select(Item).order_by(Item.item_id).limit(MAX_ITEMS))
                     .unique())
        stock = [_stock(session, item, since) for item in items]
        factories = list(session.scalars(select(Factory).order_by(Factory.factory_id)
                                         .limit(MAX_FACTORIES)))
        lead_times = [_lead_times(session, factory) for factory in factories]
        items_total = session.scalar(select(func.count()).select_from(Item)) or 0
        factories_total = session.scalar(select(func.count()).select_from(Factory)) or 0
    return {"now": now, "since": since, "history_days": HISTORY_DAYS, "stock": stock,
            "items_total": items_total, "lead_times": lead_times,
            "factories_total": factories_total}


def _stock(session, item: Item, since: datetime) -> dict:
    """The item's level just before its first row shown, then after each row (oldest first)."""
    rows = list(session.execute(
        select(StockLedgerEntry.created_at, StockLedgerEntry.delta,
               StockLedgerEntry.quantity_after)
        .where(StockLedgerEntry.item_id == item.item_id, StockLedgerEntry.created_at >= since)
        .order_by(StockLedgerEntry.entry_id.desc()).limit(LEDGER_POINTS)))[::-1]
    points = [(rows[0].created_at, rows[0].quantity_after - rows[0].delta)] if rows else []
    points += [(row.created_at, row.quantity_after) for row in rows]
    rule = rule_of(item)
    return {"item_id": item.item_id, "name": item.name, "factory_name": item.factory.name,
            "quantity": item.quantity, "reorder_point": rule.reorder_point,
            "target_level": rule.target_level,
            "policy": item.reorder_rule.policy if item.reorder_rule else "default",
            "movements": len(rows), "points": points}


def _lead_times(session, factory: Factory) -> dict:
    """The factory's latest fulfilled orders (any of its items), oldest first."""
    rows = list(session.execute(
        select(ReplenishmentOrder.replenishment_order_id, ReplenishmentOrder.created_at,
               ReplenishmentOrder.due_at, ReplenishmentOrder.fulfilled_at, Item.name)
        .join(Item, Item.item_id == ReplenishmentOrder.item_id)
        .where(Item.factory_id == factory.factory_id, ReplenishmentOrder.status == "fulfilled",
               ReplenishmentOrder.fulfilled_at.is_not(None))
        .order_by(ReplenishmentOrder.fulfilled_at.desc()).limit(LEAD_TIME_ORDERS)))[::-1]
    orders = [{"replenishment_order_id": order_id, "item_name": item_name,
               "fulfilled_at": fulfilled,
               "actual_seconds": (fulfilled - created).total_seconds(),
               "promised_seconds": (due - created).total_seconds() if due else None}
              for order_id, created, due, fulfilled, item_name in rows]
    return {"factory_id": factory.factory_id, "name": factory.name, "orders": orders}
