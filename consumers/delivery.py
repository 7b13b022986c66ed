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


def handle_record(record: dict, held: list | None = None) -> shop_service.ReceiveResult:
    event = parse_event(record["body"], expected_types=EVENT_TYPES)
    p = event.payload
    uow = runtime.shop_uow()
    uow.held = held
    # Stock moves only for a completion that matches an open order of its item; any other is
    # recorded as an anomaly (no stock, the operator e-mailed) and the message is done with.
    result = shop_service.receive_stock(
        uow, event.event_id, p["item_id"], p["quantity"],
        p["replenishment_order_id"], production_order_id=p["production_order_id"],
        factory_id=p["factory_id"])
    if not result.applied:
        log.info("production.completed %s was applied before; nothing to do", event.event_id)
    return result


def handler(event: dict, context=None) -> dict:
    # The events the batch's restocks commit (stock back, backorders filled, a reorder) are
    # published after the batch, together: one pass and one transaction marking them, instead of
    # one per message. They wait for at most the rest of the batch (ten messages).
    held: list = []
    answer = handle_batch(event, lambda record: handle_record(record, held), runtime.messaging())
    runtime.shop_uow().publish(held)
    return answer
