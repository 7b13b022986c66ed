"""SQS batch handling in AWS Lambda Powertools' style.

- a record handler runs per message; success needs nothing more (Lambda deletes it);
- a transient failure (any exception) is reported in `batchItemFailures`: SQS redelivers it after
  the visibility timeout and, after maxReceiveCount, moves it to the dead-letter queue;
- a permanent failure (`PermanentFailure`, or an `InvalidEvent` the schema rejected) can never
  succeed, so it goes to the queue's DLQ at once, with the reason, instead of burning retries;
- `RetryLater` (a throttled dependency) is not a failure of the message: it is reported for
  redelivery too, but after a backoff set with ChangeMessageVisibility (short, growing with the
  receive count) instead of the queue's full visibility timeout, and logged as a warning.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

from inventory_core import correlation
from inventory_core.adapters.messaging import Messaging
from inventory_core.domain.errors import InvalidEvent
from inventory_core.topology import dead_letter_queue_of

log = logging.getLogger(__name__)
RecordHandler = Callable[[dict], object]  # what it returns is not used


class PermanentFailure(Exception):
    """No retry can fix this message (e.g. the factory answered 4xx): dead-letter it now."""


class RetryLater(Exception):
    """A dependency throttled us: try this message again after a backoff."""


BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 300


def backoff_seconds(receive: int) -> int:
    """5 s, 10 s, 20 s … at most 5 minutes, with up to 20 % jitter so throttled messages spread."""
    import random

    base = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, receive - 1))
    return base + random.randint(0, base // 5)  # nosec B311 - jitter, not a secret


def queue_name_of(record: dict) -> str:
    return record["eventSourceARN"].rsplit(":", 1)[-1]


def receive_count(record: dict) -> int:
    return int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))


def correlation_of(record: dict) -> str | None:
    """The flow a message belongs to: its envelope's correlation id (or, from a producer that set
    none, its event id); None for a body that is no envelope of ours (it still gets handled)."""
    try:
        envelope = json.loads(record.get("body") or "")
    except ValueError:
        return None
    if not isinstance(envelope, dict):
        return None
    for candidate in (envelope.get("correlation_id"), envelope.get("event_id")):
        if correlation.is_valid(candidate):
            return candidate
    return None


def handle_batch(event: dict, record_handler: RecordHandler, messaging: Messaging) -> dict:
    """Each record under its own correlation id, so every line logged about it carries it."""
    failures = []
    for record in event.get("Records", []):
        with correlation.bound(correlation_of(record)):
            failure = _handle_record(record, record_handler, messaging)
        if failure:
            failures.append(failure)
    return {"batchItemFailures": failures}


def _handle_record(record: dict, record_handler: RecordHandler,
                   messaging: Messaging) -> dict | None:
    """None when the record is done (Lambda deletes it), else its batchItemFailures entry."""
    message_id = record.get("messageId", "?")
    failed = {"itemIdentifier": message_id}
    try:
        record_handler(record)
    except (PermanentFailure, InvalidEvent) as exc:
        log.error("message %s from %s is permanently failed: %s", message_id,
                  queue_name_of(record), exc)
        return None if _dead_letter_now(record, str(exc), messaging) else failed
    except RetryLater as exc:
        delay = backoff_seconds(receive_count(record))
        log.warning("message %s from %s: %s; trying again in %d s", message_id,
                    queue_name_of(record), exc, delay)
        _delay(record, delay, messaging)
        return failed
    except Exception:  # any other failure is worth another delivery
        log.exception("message %s from %s failed (receive %d); it will be redelivered",
                      message_id, queue_name_of(record), receive_count(record))
        return failed
    return None


def send_shape(message_attributes: dict | None) -> dict:
    """Lambda's {name: {stringValue, dataType}} back to SQS's {name: {StringValue, DataType}}."""
    return {name: {"DataType": value.get("dataType", "String"), "StringValue": value["stringValue"]}
            for name, value in (message_attributes or {}).items()
            if value.get("stringValue") is not None}


def _delay(record: dict, seconds: int, messaging: Messaging) -> None:
    try:
        messaging.delay(messaging.queue_url(queue_name_of(record)), record["receiptHandle"],
                        seconds)
    except Exception:  # then the queue's own visibility timeout applies
        log.exception("could not delay message %s; it comes back after the visibility timeout",
                      record.get("messageId"))


def _dead_letter_now(record: dict, reason: str, messaging: Messaging) -> bool:
    attributes = send_shape(record.get("messageAttributes"))
    attributes["failure_reason"] = {"DataType": "String", "StringValue": reason[:1000] or "-"}
    attributes["receive_count"] = {"DataType": "Number", "StringValue": str(receive_count(record))}
    try:
        dlq_url = messaging.queue_url(dead_letter_queue_of(queue_name_of(record)))
        messaging.send(dlq_url, record["body"], attributes)
        return True
    except Exception:  # then let SQS redeliver it and dead-letter it in the end
        log.exception("could not dead-letter message %s; leaving it to redelivery",
                      record.get("messageId"))
        return False
