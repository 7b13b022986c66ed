"""Scheduled: recompute every learned reorder rule from the shop's history (hourly on AWS, a Zappa
scheduled event of the consumers stage; every LEARN_INTERVAL seconds in the local stack's relay).
See inventory_core.service_layer.forecasting."""
from __future__ import annotations

from consumers import runtime


def handler(event=None, context=None) -> dict:
    from inventory_core.service_layer import forecasting  # not at a cold start (consumers.runtime)
    results = forecasting.learn_rules(runtime.shop_uow())
    return {"rules": len(results), "learned": sum(r["learned"] for r in results)}
