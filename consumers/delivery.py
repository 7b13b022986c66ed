"""Delivery consumer: `production.completed` -> the shop restocks, once per event id, and only
for a completion that matches an open replenishment order (else: a recorded anomaly).

A duplicate (SQS at-least-once, or the factory's relay publishing twice) is recognised by
`receive_stock` from the processed-events table and succeeds without changing anything."""
from __future__ import annotations

import logging

from consumers import runtime
from consumers.batch import handle_batch
from inventory_core.domain.events import parse_event
from inventory_core.service_layer import shop_service

log = logging.getLogger(__name__)
EVENT_TYPES = ("production.completed",)


def handle_record(record: dict) -> shop_service.ReceiveResult:
    event = parse_event(record["body"], expected_types=EVENT_TYPES)
    p = event.payload
    # Stock moves only for a completion that matches an open order of its item; any other is
    # recorded as an anomaly (no stock, the operator e-mailed) and the message is done with.
    result = shop_service.receive_stock(
        runtime.shop_uow(), event.event_id, p["item_id"], p["quantity"],
        p["replenishment_order_id"], production_order_id=p["production_order_id"],
        factory_id=p["factory_id"])
    if not result.applied:
        log.info("production.completed %s was applied before; nothing to do", event.event_id)
    return result


def handler(event: dict, context=None) -> dict:
    return handle_batch(event, handle_record, runtime.messaging())
