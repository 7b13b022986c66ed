"""Every SNS topic, SQS queue and dead-letter queue of the system, in ONE place.

Terraform (terraform/topology.json, written by `make generate`), the Zappa settings and the local
stack all take their names from here, and tests check each of them against this module.
Physical names are `<prefix>-<logical name>`, the prefix being the deployment (e.g.
`replenish-dev`).
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field

DEFAULT_PREFIX = "replenish-local"


DLQ_SUFFIX = "-dlq"
QUEUE_DESTINATION = "queue:"  # an outbox destination "queue:<key>" is sent straight to that queue
SQS_MAX_DELAY_SECONDS = 900  # SQS's own limit on DelaySeconds


def dead_letter_queue_of(queue_name: str) -> str:
    """The name of a queue's dead-letter queue (logical or physical alike)."""
    return f"{queue_name}{DLQ_SUFFIX}"


def source_queue_of(dlq_name: str) -> str:
    return dlq_name.removesuffix(DLQ_SUFFIX)


@dataclass(frozen=True)
class Topic:
    key: str
    name: str
    description: str


RESTOCK_PATH_BATCH_WINDOW = 0  # order -> production -> delivery: a failed purchase waits on it
# Notifications (ad pauses, e-mails) wait for no one: gather up to 10 per invocation instead.
EFFICIENT_BATCH_WINDOW = 5


@dataclass(frozen=True)
class Queue:
    key: str
    name: str
    consumer: str  # dotted path of the Lambda function `handler(event, context)`
    max_receive_count: int
    visibility_timeout: int  # seconds; at least 6x the consumer's Lambda timeout on AWS
    batch_size: int = 10
    # MaximumBatchingWindowInSeconds: how long Lambda (and the local poller) gathers messages
    # before invoking. 0 on the restock path, where a buyer waits for the stock to come back (each
    # window there adds its length to every restock); seconds where batching saves work and
    # nobody waits (RESTOCK_PATH_BATCH_WINDOW, EFFICIENT_BATCH_WINDOW below).
    batch_window: int = 0
    topics: tuple[str, ...] = ()  # keys of the topics it subscribes to (raw delivery); none: sends
    description: str = ""

    @property
    def dlq_name(self) -> str:
        return dead_letter_queue_of(self.name)


@dataclass(frozen=True)
class Topology:
    topics: tuple[Topic, ...]
    queues: tuple[Queue, ...]
    dead_letter_consumer: str
    dead_letter_batch_size: int = 10  # the dead-letter consumer only records: take full batches
    dead_letter_batch_window: int = 0
    dlq_retention_seconds: int = 14 * 24 * 3600  # the maximum: longer than any source queue's
    queue_retention_seconds: int = 4 * 24 * 3600
    # Where each event type goes: a topic key, or "queue:<queue key>" for a direct (delayable) send.
    event_types: dict[str, str] = field(default_factory=dict)

    def topic(self, key: str) -> Topic:
        return next(t for t in self.topics if t.key == key)

    def queue(self, key: str) -> Queue:
        return next(q for q in self.queues if q.key == key)


TOPOLOGY = Topology(
    topics=(
        Topic("replenishment_requested", "replenishment-requested",
              "The seed's order-topic: the shop asks a factory for stock, or to stop (cancel)."),
        Topic("production_completed", "production-completed",
              "The seed's delivery-topic: a factory finished a production order."),
        Topic("stock_events", "stock-events",
              "An item ran out of stock or came back; a replenishment failed or stalled, or a "
              "delivery matched no order: what the notify consumer e-mails."),
        Topic("backorder_events", "backorder-events",
              "A buyer's backorder was filled or cancelled: the requester's notice (subscribe "
              "to it; with an e-mail address they are also e-mailed)."),
    ),
    queues=(
        # The restock path: a failed purchase waits on these three queues.
        Queue("order", "order-queue", "consumers.order.handler", max_receive_count=8,
              visibility_timeout=180, topics=("replenishment_requested",),
              batch_window=RESTOCK_PATH_BATCH_WINDOW,
              description="Replenishment requests and cancellations, passed on to the factory "
                          "API."),
        Queue("production", "production-queue", "consumers.production.handler", max_receive_count=5,
              visibility_timeout=180, batch_window=RESTOCK_PATH_BATCH_WINDOW,
              description="The factory's own delayed 'production due' messages (lead time)."),
        Queue("delivery", "delivery-queue", "consumers.delivery.handler", max_receive_count=5,
              visibility_timeout=180, topics=("production_completed",),
              batch_window=RESTOCK_PATH_BATCH_WINDOW,
              description="Completed productions, restocked in the shop."),
        Queue("notification", "notification-queue", "consumers.notify.handler", max_receive_count=5,
              visibility_timeout=180,
              topics=("stock_events", "replenishment_requested", "backorder_events"),
              batch_window=EFFICIENT_BATCH_WINDOW,
              description="Stock-outs, restocks, replenishment requests and cancellations, "
                          "backorders, failed or stalled orders and delivery anomalies: "
                          "pause/resume ads, e-mail the ad and factory managers, requesters and "
                          "the operator."),
    ),
    dead_letter_consumer="consumers.dead_letter.handler",
    event_types={
        "production.due": QUEUE_DESTINATION + "production",
        "replenishment.requested": "replenishment_requested",
        "replenishment.cancelled": "replenishment_requested",
        "replenishment.failed": "stock_events",
        "replenishment.stalled": "stock_events",
        "delivery.anomaly": "stock_events",
        "production.completed": "production_completed",
        "stock.depleted": "stock_events",
        "stock.restocked": "stock_events",
        "backorder.filled": "backorder_events",
        "backorder.cancelled": "backorder_events",
    },
)


@dataclass(frozen=True)
class Schedule:
    """A function run on a timer: an EventBridge rule on AWS (Zappa `events` of its service's
    stage), a loop in the local stack's part of that service."""
    function: str  # dotted path of `handler(event, context)`
    service: str  # the Zappa stage family that runs it (deploy.settings.SERVICES)
    rate_minutes: int
    description: str
    # Where the local stack runs it: the consumers part (it needs the consumers' signing key) or
    # the relay (local_stack.relay, at its own interval).
    local_part: str = "consumers"


# The outbox sweeps are scheduled by deploy.settings.SWEEPS (one per API service).
SCHEDULES = (
    Schedule("consumers.lifecycle.handler", "consumers", 1,
             "Replenishment lifecycle check: deadlines, reconciliation, escalation"),
    # Learned reorder rules (docs/demand.md); the consumers stage has the shop database.
    Schedule("consumers.learn_rules.handler", "consumers", 60,
             "Learned reorder rules from demand and lead times", local_part="relay"),
)


def physical(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"


def as_dict(prefix: str = DEFAULT_PREFIX) -> dict:
    """The topology with physical names, as Terraform and the docs consume it."""
    return {
        "prefix": prefix,
        "topics": {t.key: {"name": physical(prefix, t.name), "description": t.description}
                   for t in TOPOLOGY.topics},
        "queues": {q.key: {**asdict(q), "topics": list(q.topics), "name": physical(prefix, q.name),
                           "dlq_name": physical(prefix, q.dlq_name)} for q in TOPOLOGY.queues},
        "dead_letter_consumer": TOPOLOGY.dead_letter_consumer,
        "dead_letter_batch_size": TOPOLOGY.dead_letter_batch_size,
        "dead_letter_batch_window": TOPOLOGY.dead_letter_batch_window,
        "dlq_retention_seconds": TOPOLOGY.dlq_retention_seconds,
        "queue_retention_seconds": TOPOLOGY.queue_retention_seconds,
        "event_types": dict(TOPOLOGY.event_types),
    }


if __name__ == "__main__":  # pragma: no cover - `python -m inventory_core.topology [prefix]`
    json.dump(as_dict(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PREFIX), sys.stdout, indent=2)
    print()
