"""Learned reorder rules from the shop's own history (the numbers: inventory_core.domain.forecast).

`learn_rules` runs on a schedule (hourly on AWS: consumers.learn_rules; the local stack's relay
locally). For every reorder rule with `policy = "learned"` it reads
- demand: units asked for per day over the rule's window: sales from the ledger (not the fills
  of backorders, which are counted when they were asked for) plus backorders by the day they were
  placed (cancelled ones included: they were demand too); days without sales count as zeros;
- lead time: requested → fulfilled times of the item's factory's most recent fulfilled
  replenishment orders (any of its items: the factory's queue is what delays them);
and writes the new reorder point and target with the inputs behind them. With too little history
it keeps the rule's values and says why (`learned_note`). Manual rules are never touched.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from inventory_core.adapters.models.common import iso, utcnow
from inventory_core.adapters.models.shop import (
    Backorder,
    Item,
    ReorderRule,
    ReplenishmentOrder,
    StockLedgerEntry,
)
from inventory_core.domain import forecast
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

log = logging.getLogger(__name__)
DAY = timedelta(days=1)


def policy_of(rule: ReorderRule) -> forecast.Policy:
    return forecast.Policy(
        window_days=rule.window_days or forecast.WINDOW_DAYS,
        service_level=rule.service_level or forecast.SERVICE_LEVEL,
        review_days=forecast.REVIEW_DAYS if rule.review_days is None else rule.review_days)


def learned_view(rule: ReorderRule | None) -> dict | None:
    """A learned rule's inputs and parameters, for GET /items and the dashboard; None if manual."""
    if rule is None or rule.policy != "learned":
        return None
    inputs = dict(rule.learned_inputs or {})
    if not inputs:
        inputs = {**vars(policy_of(rule))}  # not learned yet: at least the parameters it will use
    return {**inputs, "learned_at": iso(rule.learned_at), "note": rule.learned_note}


def daily_units(session, item_id: int, window_days: int, now: datetime) -> list[int]:
    """Units asked for on each of the last `window_days` days (today last), or on each day since
    the item's first ledger row if that is shorter."""
    since = now - window_days * DAY
    first = session.scalar(select(StockLedgerEntry.created_at)
                           .where(StockLedgerEntry.item_id == item_id)
                           .order_by(StockLedgerEntry.entry_id).limit(1))
    if first is not None and first > since:
        since = first
    days = max(0, int((now - since) / DAY))
    since = now - days * DAY
    units = [0] * days
    sales = session.execute(
        select(StockLedgerEntry.created_at, StockLedgerEntry.delta)
        .where(StockLedgerEntry.item_id == item_id, StockLedgerEntry.reason == "sale",
               StockLedgerEntry.created_at >= since,
               StockLedgerEntry.reference.not_like("backorder:%")))
    asked = session.execute(
        select(Backorder.created_at, Backorder.quantity)
        .where(Backorder.item_id == item_id, Backorder.created_at >= since))
    for at, quantity in [(at, -delta) for at, delta in sales] + list(asked):
        day = int((at - since) / DAY)
        if 0 <= day < days:
            units[day] += quantity
    return units


def lead_time_days(session, factory_id: int, samples: int = forecast.LEAD_TIME_SAMPLES
                   ) -> list[float]:
    """Requested → fulfilled, in days, of the factory's most recent fulfilled orders."""
    rows = session.execute(
        select(ReplenishmentOrder.created_at, ReplenishmentOrder.fulfilled_at)
        .join(Item, Item.item_id == ReplenishmentOrder.item_id)
        .where(Item.factory_id == factory_id, ReplenishmentOrder.status == "fulfilled",
               ReplenishmentOrder.fulfilled_at.is_not(None))
        .order_by(ReplenishmentOrder.fulfilled_at.desc()).limit(samples))
    return [(fulfilled - created) / DAY for created, fulfilled in rows]


@retry_transient
def learn_rule(uow: UnitOfWork, item_id: int, now: datetime | None = None) -> dict | None:
    """Learn one item's rule now (if it is `learned`); what was learned, or None."""
    now = now or utcnow()
    with uow:
        session = uow.session
        rule = session.get(ReorderRule, item_id, with_for_update=True)
        if rule is None or rule.policy != "learned":
            return None
        item = session.get_one(Item, item_id)
        policy = policy_of(rule)
        rule.learned_at = now
        try:
            learned = forecast.learn(
                forecast.daily_demand(daily_units(session, item_id, policy.window_days, now)),
                forecast.lead_time(lead_time_days(session, item.factory_id)), policy)
        except forecast.NotEnoughHistory as exc:
            rule.learned_note = str(exc)[:200]
            result = {"item_id": item_id, "learned": False, "note": rule.learned_note}
        else:
            rule.reorder_point, rule.target_level = learned.reorder_point, learned.target_level
            rule.learned_inputs, rule.learned_note = learned.inputs(), None
            result = {"item_id": item_id, "learned": True, "reorder_point": rule.reorder_point,
                      "target_level": rule.target_level}
        uow.commit()
    return result


def learn_rules(uow: UnitOfWork, now: datetime | None = None) -> list[dict]:
    """Every learned rule, each in its own short transaction (no sale waits on all of them)."""
    with uow:
        item_ids = list(uow.session.scalars(select(ReorderRule.item_id)
                                            .where(ReorderRule.policy == "learned")
                                            .order_by(ReorderRule.item_id)))
    results = [r for r in (learn_rule(uow, item_id, now) for item_id in item_ids) if r]
    if results:
        log.info("learned reorder rules: %s", results)
    return results
