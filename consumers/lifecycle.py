"""The replenishment lifecycle check, on a schedule: every minute on AWS (a Zappa scheduled event
of the consumers stage, deploy/settings.py), every few seconds in the local stack's consumers
part. It is what makes every order end:

- a request the factory has not accepted within REPLENISHMENT_ACCEPT_SECONDS is sent again, up
  to REPLENISHMENT_MAX_REQUESTS requests in all; then the order fails, the item is free for a new
  order and the operator is e-mailed;
- an accepted order REPLENISHMENT_GRACE_SECONDS past the factory's due time is reconciled with
  the factory's own record (`GET /production-orders/<id>`, signed like every factory call): a
  lost order is requested again or failed, a stalled one escalated.

Idempotent and safe to run concurrently: each order is re-checked under its row lock before
anything changes. A factory that does not answer leaves its orders for the next run."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from consumers import runtime
from inventory_core.adapters import metrics
from inventory_core.domain.replenishment import Status

log = logging.getLogger(__name__)


def check(now: datetime | None = None) -> dict[str, int]:
    """One pass over the overdue orders; what it did, by outcome, and the counts it measured."""
    # imported when it runs, not at a cold start (consumers.runtime)
    from consumers import factory_client
    from inventory_core.service_layer import replenishments
    settings = runtime.settings()
    timeouts = settings.replenishment_timeouts
    done: Counter[str] = Counter()
    for order in replenishments.overdue(runtime.shop_uow(), timeouts, now):
        if order.status == Status.REQUESTED:
            done[replenishments.expire_request(runtime.shop_uow(), order.replenishment_order_id,
                                               timeouts, now)] += 1
            continue
        if order.factory_reference is None or not order.factory_reference.isdigit():
            factory_order = None  # accepted under no usable id: the factory cannot be asked
        else:
            try:
                factory_order = factory_client.get_production_order(
                    settings.factory_api_url, int(order.factory_reference), settings.aws_region)
            except factory_client.FactoryUnavailable as exc:
                log.warning("lifecycle: factory unavailable for order %s, next run: %s",
                            order.replenishment_order_id, exc)
                done["factory_unavailable"] += 1
                continue
        done[replenishments.reconcile(runtime.shop_uow(), order.replenishment_order_id,
                                      order.factory_reference, factory_order, timeouts,
                                      now)] += 1
    counts = replenishments.counts(runtime.shop_uow(), timeouts, now)
    # Gauges, every run: the alarms (terraform/alarms_replenishment.tf) watch these.
    metrics.emit("ReplenishmentsStalled", counts["stalled"])
    metrics.emit("ReplenishmentsOverdue", counts["overdue"])
    if done:
        log.info("lifecycle check: %s", dict(done))
    return {**done, **{f"{name}_count": value for name, value in counts.items()}}


def handler(event=None, context=None) -> dict:
    return check()
