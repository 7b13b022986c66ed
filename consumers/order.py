"""Order consumer: the shop's order-topic, passed on to the factory API.

- `replenishment.requested` -> `POST /production-orders` -> the shop records the acceptance. Only
  while the shop's order is still `requested`: a request for an order that was cancelled, failed
  or accepted meanwhile (a late duplicate) calls nobody. The factory's answer must be the order
  that was asked for (same replenishment id, factory, item and quantity); any other answer is
  dead-lettered at once and never recorded as the acceptance.
- `replenishment.cancelled` -> `POST /production-orders/cancel`: the factory stops what it has
  not produced. Already produced (409) is not an error: the shop records the completion that
  follows as an anomaly and stocks nothing.

The factory is idempotent on the replenishment order id, so a redelivered request creates no
second production order. Once the factory proves unavailable in an invocation, the rest of the
batch is failed at once (redelivered later) instead of waiting out every timeout again."""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from consumers import runtime
from consumers.batch import PermanentFailure, handle_batch
from inventory_core import correlation
from inventory_core.domain.replenishment import Status, mismatched_terms

# The factory's client (requests), the event schemas and the service layer are imported on the
# first message, not at a cold start (consumers.runtime).
if TYPE_CHECKING:
    from inventory_core.domain.events import Event

log = logging.getLogger(__name__)
EVENT_TYPES = ("replenishment.requested", "replenishment.cancelled")
SAFETY_MILLIS = 2000  # leave this much of the Lambda's time for the batch response
TERMS = ("replenishment_order_id", "factory_id", "item_id", "item_name", "quantity", "requester")


class WrongAnswer(PermanentFailure):
    """The factory answered with an order other than the one asked for."""


def handle_record(record: dict, deadline: float | None = None) -> str | None:
    from inventory_core.domain.events import parse_event
    event = parse_event(record["body"], expected_types=EVENT_TYPES)
    if event.type == "replenishment.cancelled":
        return cancel(event, deadline)
    return request(event, deadline)


def request(event: Event, deadline: float | None) -> str | None:
    from consumers.factory_client import request_production
    from inventory_core.service_layer import shop_service
    p = event.payload
    order_id = p["replenishment_order_id"]
    order = shop_service.get_replenishment(runtime.shop_uow(), order_id)
    if order is None or order["status"] != Status.REQUESTED:
        log.info("replenishment order %s is %s: not asking the factory", order_id,
                 order["status"] if order else "unknown")
        return None
    settings = runtime.settings()
    asked = {name: p[name] for name in TERMS}
    answer = request_production(settings.factory_api_url, asked, region=settings.aws_region,
                                correlation_id=correlation.current(),  # the batch loop checked it
                                deadline=deadline)
    wrong = mismatched_terms(asked, answer)
    if wrong:
        raise WrongAnswer(f"the factory answered replenishment {order_id} with another order "
                          f"(differs in {', '.join(wrong)}): not recorded as accepted")
    production_order_id = str(answer["production_order_id"])
    due_at = answer.get("due_at")
    shop_service.mark_replenishment_accepted(
        runtime.shop_uow(), order_id, production_order_id,
        datetime.fromisoformat(due_at) if due_at else None)
    return production_order_id


def cancel(event: Event, deadline: float | None) -> str | None:
    from consumers.factory_client import FactoryRejected, cancel_production
    p = event.payload
    settings = runtime.settings()
    try:
        answer = cancel_production(settings.factory_api_url, {name: p[name] for name in TERMS},
                                   region=settings.aws_region,
                                   correlation_id=correlation.current(), deadline=deadline)
    except FactoryRejected as exc:
        if exc.status != 409:
            raise
        log.warning("replenishment order %s was cancelled too late: %s",
                    p["replenishment_order_id"], exc)
        return None
    return str(answer["production_order_id"])


def handler(event: dict, context=None) -> dict:
    from consumers.factory_client import FactoryUnavailable
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
