"""Dead-letter consumer, bound to EVERY dead-letter queue: records each message in the shop
database (idempotent on dlq + message id), so operators can list and redrive it (admin API,
`flask --app shop_api dead-letters ...`). Any body is recorded, garbage included: this is the
last stop, so nothing here may reject a message. A database failure is reported per message
and SQS redelivers it; the successful invocation deletes it from the DLQ, as Lambda does."""
from __future__ import annotations

import logging

from consumers import runtime
from consumers.batch import handle_batch, queue_name_of, receive_count, send_shape
from inventory_core.topology import source_queue_of

log = logging.getLogger(__name__)


def handle_record(record: dict):
    # imported on the first message, not at a cold start (consumers.runtime)
    from inventory_core.service_layer.dead_letters import record_dead_letter
    dlq = queue_name_of(record)
    attributes = send_shape(record.get("messageAttributes"))
    # Dead-lettered at once by a consumer: it says how often the source queue delivered it.
    # Moved by SQS after maxReceiveCount: the DLQ's own count (it keeps counting there).
    count = attributes.get("receive_count", {}).get("StringValue")
    count = int(count) if count and count.isdigit() else receive_count(record)
    recorded = record_dead_letter(runtime.shop_uow(), dlq, record["messageId"],
                                  record.get("body") or "", attributes, count)
    log.error("dead letter %s from %s recorded as #%d%s (type %s, reason %s)", record["messageId"],
              source_queue_of(dlq), recorded.dead_letter_id, "" if recorded.created else " again",
              (attributes.get("type") or {}).get("StringValue"),
              (attributes.get("failure_reason") or {}).get("StringValue", "maxReceiveCount"))
    return recorded


def handler(event: dict, context=None) -> dict:
    # The batch loop every consumer uses: a record that fails to be recorded (the database) is
    # reported and stays in the DLQ, which delivers it again; handle_record raises nothing that
    # would dead-letter it (a DLQ has no DLQ).
    return handle_batch(event, handle_record, runtime.messaging())
