"""Lambda's SQS event source mapping, emulated for one queue and one function.

It does what Lambda does with a queue on AWS, with the same function: long-poll the queue,
gather up to `batch_size` messages for at most `batch_window` seconds, invoke
`handler(event, context)` with a Lambda-shaped SQS event, then delete every message the answer
does not list in `batchItemFailures` (ReportBatchItemFailures). If the function raises, or
answers an item identifier that is not in the batch, nothing is deleted: the whole batch comes
back after the visibility timeout, and SQS moves a message to its DLQ after maxReceiveCount.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from inventory_core.adapters.messaging import Messaging
from inventory_core.topology import TOPOLOGY, dead_letter_queue_of

if TYPE_CHECKING:
    from types_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)
Handler = Callable[[dict, object], dict | None]


def load_function(dotted: str) -> Handler:
    """`consumers.order.handler` -> the function object."""
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


class LambdaContext:
    """The parts of Lambda's context object our functions use."""

    def __init__(self, function_name: str, timeout_seconds: float):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class PollStats:
    received: int = 0
    deleted: int = 0
    failed: int = 0  # reported in batchItemFailures, or the whole batch when the function raised
    redeliveries: int = 0  # received with ApproximateReceiveCount > 1
    invocations: int = 0
    errors: int = 0  # invocations that raised
    seconds: float = 0.0

    def add(self, other: PollStats) -> None:
        for name in ("received", "deleted", "failed", "redeliveries", "invocations", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds


def to_lambda_record(message: MessageTypeDef, queue_arn: str, region: str) -> dict:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in (
            "ApproximateReceiveCount", "SentTimestamp", "SenderId",
            "ApproximateFirstReceiveTimestamp") if name in attributes},
        "messageAttributes": {
            name: {"stringValue": value.get("StringValue"), "stringListValues": [],
                   "binaryListValues": [], "dataType": value.get("DataType", "String")}
            for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueuePoller:
    def __init__(self, messaging: Messaging, queue_url: str, function: str | Handler,
                 batch_size: int = 10, batch_window: float = 1.0, wait_seconds: int = 5,
                 timeout_seconds: float = 30.0, name: str | None = None):
        self.messaging = messaging
        self.queue_url = queue_url
        self.function = function
        self.batch_size = max(1, min(batch_size, 10))  # one receive call's maximum
        self.batch_window = batch_window
        self.wait_seconds = wait_seconds
        self.timeout_seconds = timeout_seconds
        self.name = name or queue_url.rsplit("/", 1)[-1]
        self.stats = PollStats()
        self._queue_arn: str | None = None
        self._handler: Handler | None = None

    @property
    def handler(self) -> Handler:
        # Resolved on first use, so a poller can be built before its function's module exists.
        if self._handler is None:
            self._handler = (load_function(self.function) if isinstance(self.function, str)
                             else self.function)
        return self._handler

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            self._queue_arn = self.messaging.queue_arn(self.queue_url)
        return self._queue_arn

    def _gather(self) -> list[MessageTypeDef]:
        messages = self.messaging.receive(self.queue_url, self.batch_size, self.wait_seconds)
        if not messages:
            return []
        window_ends = time.monotonic() + self.batch_window
        seen = {m["MessageId"] for m in messages}
        while len(messages) < self.batch_size and time.monotonic() < window_ends:
            more = self.messaging.receive(self.queue_url, self.batch_size - len(messages), 0)
            if not more:
                time.sleep(min(0.05, max(0.0, window_ends - time.monotonic())))
                continue
            for message in more:
                if message["MessageId"] not in seen:  # never twice in one batch
                    seen.add(message["MessageId"])
                    messages.append(message)
        return messages

    def poll_once(self) -> PollStats:
        """One receive (plus gathering for the batch window) and at most one invocation."""
        started = time.monotonic()
        stats = PollStats()
        messages = self._gather()
        if messages:
            records = [to_lambda_record(m, self.queue_arn, self.messaging.settings.aws_region)
                       for m in messages]
            received = PollStats(received=len(records), redeliveries=sum(
                int(r["attributes"].get("ApproximateReceiveCount", 1)) > 1 for r in records))
            # Counted before the handler runs: whoever sees its effects sees these counts too.
            self.stats.add(received)
            stats.add(received)
            handles = {r["messageId"]: r["receiptHandle"] for r in records}
            stats.invocations = 1
            try:
                answer = self.handler({"Records": records},
                                      LambdaContext(self.name, self.timeout_seconds))
            except Exception:  # Lambda's behaviour: the whole batch comes back
                log.exception("%s: the function raised; %d message(s) will be redelivered",
                              self.name, len(records))
                stats.errors, stats.failed = 1, len(records)
            else:
                failed_ids = self._failed_ids(answer, handles)
                stats.failed = len(failed_ids)
                to_delete = {mid: h for mid, h in handles.items() if mid not in failed_ids}
                if to_delete:
                    not_deleted = self.messaging.delete_batch(self.queue_url, to_delete)
                    stats.deleted = len(to_delete) - len(not_deleted)
        stats.seconds = time.monotonic() - started
        self.stats.add(PollStats(invocations=stats.invocations, errors=stats.errors,
                                 failed=stats.failed, deleted=stats.deleted, seconds=stats.seconds))
        return stats

    def _failed_ids(self, answer, handles: dict[str, str]) -> set[str]:
        if not answer or not isinstance(answer, dict):
            return set()
        failures = answer.get("batchItemFailures") or []
        ids = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
        if any(i not in handles for i in ids):  # Lambda treats a malformed answer as all failed
            log.error("%s: invalid batchItemFailures %r; the whole batch fails", self.name,
                      failures)
            return set(handles)
        return {message_id for message_id in handles if message_id in ids}  # = ids, as strings

    def run(self, stop_event: threading.Event,
            on_poll: Callable[[PollStats], None] | None = None) -> PollStats:
        """Poll until `stop_event` is set, calling `on_poll(stats)` after every poll. Errors
        talking to SQS back off (0.5 s doubling to 10 s) and go on; an outage is logged once when
        it starts and once when polling works again, not once per retry."""
        pause, failing_since = 0.5, None
        while not stop_event.is_set():
            try:
                stats = self.poll_once()
            except Exception as exc:  # a broker hiccup must not end the poller
                if failing_since is None:
                    failing_since = time.monotonic()
                    if isinstance(exc, (BotoCoreError, ClientError)):
                        log.warning("%s: cannot poll (%s: %s); retrying with backoff", self.name,
                                    exc.__class__.__name__, exc)
                    else:
                        log.exception("%s: polling failed; retrying with backoff", self.name)
                else:
                    log.debug("%s: polling failed again: %s", self.name, exc)
                stop_event.wait(pause)
                pause = min(pause * 2, 10)
                continue
            if failing_since is not None:
                log.info("%s: polling again after %.1fs", self.name,
                         time.monotonic() - failing_since)
                failing_since = None
            pause = 0.5
            if on_poll is not None:
                on_poll(stats)
        return self.stats


def pollers_for(messaging: Messaging, topology=None, wait_seconds: int = 5,
                batch_window: float | None = None,
                functions: dict[str, str | Handler] | None = None,
                include_dead_letters: bool = True) -> list[QueuePoller]:
    """One poller per queue of the topology (its consumer), and one per DLQ (the dead-letter
    consumer). `functions` overrides a queue's function by queue key (or 'dead_letter')."""
    topology = topology or TOPOLOGY
    functions = functions or {}
    pollers = []
    for queue in topology.queues:
        pollers.append(QueuePoller(
            messaging, messaging.queue_url_of(queue.key), functions.get(queue.key, queue.consumer),
            batch_size=queue.batch_size,
            batch_window=queue.batch_window if batch_window is None else batch_window,
            wait_seconds=wait_seconds, name=queue.key))
        if include_dead_letters:
            pollers.append(QueuePoller(
                messaging, messaging.queue_url_of(queue.key, dead_letter=True),
                functions.get("dead_letter", topology.dead_letter_consumer),
                batch_size=topology.dead_letter_batch_size,
                batch_window=topology.dead_letter_batch_window if batch_window is None
                else batch_window,
                wait_seconds=wait_seconds, name=dead_letter_queue_of(queue.key)))
    return pollers
