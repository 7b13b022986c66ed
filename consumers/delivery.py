"""Delivery consumer: `production.completed` -> the shop restocks, once per event id, and only
for a completion that matches an open replenishment order (else: a recorded anomaly).

A duplicate (SQS at-least-once, or the factory's relay publishing twice) is recognised by
`receive_stock` from the processed-events table and succeeds without changing anything."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from consumers import runtime
from consumers.batch import handle_batch

if TYPE_CHECKING:  # the rest is imported on the first message (consumers.runtime)
    from inventory_core.service_layer.shop_service import ReceiveResult
    from inventory_core.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
EVENT_TYPES = ("production.completed",)


def handle_record(record: dict,
                  unit_of_work: Callable[[], UnitOfWork] = runtime.shop_uow) -> ReceiveResult:
    from inventory_core.domain.events import parse_event
    from inventory_core.service_layer import shop_service
    event = parse_event(record["body"], expected_types=EVENT_TYPES)
    p = event.payload
    # Stock moves only for a completion that matches an open order of its item; any other is
    # recorded as an anomaly (no stock, the operator e-mailed) and the message is done with.
    result = shop_service.receive_stock(
        unit_of_work(), event.event_id, p["item_id"], p["quantity"],
        p["replenishment_order_id"], production_order_id=p["production_order_id"],
        factory_id=p["factory_id"])
    if not result.applied:
        log.info("production.completed %s was applied before; nothing to do", event.event_id)
    return result


def handler(event: dict, context=None) -> dict:
    # One connection for the batch; the events its restocks commit (stock back, backorders
    # filled, a reorder) published after it (runtime.shop_batch).
    with runtime.shop_batch() as unit_of_work:
        return handle_batch(event, lambda record: handle_record(record, unit_of_work),
                            runtime.messaging())
