"""The factory's production consumer: a `production.due` message (delayed by the lead time)
completes its production order, which publishes `production.completed` via the factory outbox."""
from __future__ import annotations

import logging

from consumers import batch, runtime

log = logging.getLogger(__name__)


def process_record(record: dict) -> None:
    # imported on the first message, not at a cold start (consumers.runtime)
    from inventory_core.domain.events import parse_event
    from inventory_core.service_layer import factory_service
    event = parse_event(record["body"], expected_types=("production.due",))
    production_order_id = event.payload["production_order_id"]
    outcome = factory_service.complete_production(runtime.factory_uow(), production_order_id)
    if outcome == "unknown":
        # The outbox sends this message only after its order committed: nothing will ever match.
        raise batch.PermanentFailure(f"production order {production_order_id} does not exist")
    log.info("production order %s: %s (event %s)", production_order_id, outcome, event.event_id)


def handler(event: dict, context) -> dict:
    return batch.handle_batch(event, process_record, runtime.messaging())
