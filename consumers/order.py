"""Order consumer: `replenishment.requested` -> the factory API -> the shop records acceptance.

The factory is idempotent on the replenishment order id, so a redelivered request creates no
second production order. Once the factory proves unavailable in an invocation, the rest of the
batch is failed at once (redelivered later) instead of waiting out every timeout again."""
from __future__ import annotations

import time
from datetime import datetime

from consumers import runtime
from consumers.batch import handle_batch
from consumers.factory_client import FactoryUnavailable, request_production
from inventory_core import correlation
from inventory_core.domain.events import parse_event
from inventory_core.service_layer import shop_service

EVENT_TYPES = ("replenishment.requested",)
SAFETY_MILLIS = 2000  # leave this much of the Lambda's time for the batch response


def handle_record(record: dict, deadline: float | None = None) -> str:
    event = parse_event(record["body"], expected_types=EVENT_TYPES)
    p = event.payload
    settings = runtime.settings()
    answer = request_production(settings.factory_api_url, {
        "replenishment_order_id": p["replenishment_order_id"], "factory_id": p["factory_id"],
        "item_id": p["item_id"], "item_name": p["item_name"], "quantity": p["quantity"],
        "requester": p["requester"]}, region=settings.aws_region,
        correlation_id=correlation.current(), deadline=deadline)  # the batch loop checked it
    production_order_id = str(answer["production_order_id"])
    due_at = answer.get("due_at")
    shop_service.mark_replenishment_accepted(
        runtime.shop_uow(), p["replenishment_order_id"], production_order_id,
        datetime.fromisoformat(due_at) if due_at else None)
    return production_order_id


def handler(event: dict, context=None) -> dict:
    deadline = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        remaining_millis = context.get_remaining_time_in_millis() - SAFETY_MILLIS
        deadline = time.monotonic() + remaining_millis / 1000
    unavailable: list[FactoryUnavailable] = []

    def record_handler(record: dict) -> None:
        if unavailable:  # no point calling a factory that just failed every attempt
            raise FactoryUnavailable(f"skipped: {unavailable[0]}")
        try:
            handle_record(record, deadline)
        except FactoryUnavailable as exc:
            unavailable.append(exc)
            raise

    return handle_batch(event, record_handler, runtime.messaging())
