"""consumers.batch: partial batch failures and immediate dead-lettering, with a fake messaging."""
from __future__ import annotations

import json

from consumers.batch import PermanentFailure, handle_batch
from inventory_core import correlation
from inventory_core.domain.events import InvalidEvent

ARN = "arn:aws:sqs:ap-northeast-2:123456789012:p-order-queue"


class FakeMessaging:
    def __init__(self, fail_sends: bool = False):
        self.sent: list[tuple[str, str, dict]] = []
        self.fail_sends = fail_sends

    def queue_url(self, name: str) -> str:
        return f"https://sqs.local/123456789012/{name}"

    def send(self, queue_url: str, body: str, attributes: dict | None = None) -> str:
        if self.fail_sends:
            raise ConnectionError("sqs down")
        self.sent.append((queue_url, body, attributes))
        return "id"


def record(message_id: str, body: str, receive_count: int = 1, **attributes) -> dict:
    return {"messageId": message_id, "body": body, "eventSourceARN": ARN,
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {k: {"stringValue": v, "dataType": "String"}
                                  for k, v in attributes.items()}}


def handler(rec: dict) -> None:
    if rec["body"] == "transient":
        raise TimeoutError("factory slow")
    if rec["body"] == "permanent":
        raise PermanentFailure("factory answered 404")
    if rec["body"] == "invalid":
        raise InvalidEvent("not JSON")


def test_only_transient_failures_are_reported_for_redelivery():
    messaging = FakeMessaging()
    event = {"Records": [record("1", "ok"), record("2", "transient"), record("3", "permanent", 2),
                         record("4", "ok"), record("5", "invalid", type="x")]}
    assert handle_batch(event, handler, messaging) == {
        "batchItemFailures": [{"itemIdentifier": "2"}]}
    assert [(url.rsplit("/", 1)[-1], body) for url, body, _ in messaging.sent] == [
        ("p-order-queue-dlq", "permanent"), ("p-order-queue-dlq", "invalid")]
    attributes = messaging.sent[0][2]
    assert attributes["failure_reason"]["StringValue"] == "factory answered 404"
    assert attributes["receive_count"] == {"DataType": "Number", "StringValue": "2"}
    assert messaging.sent[1][2]["type"] == {"DataType": "String", "StringValue": "x"}


def test_a_permanent_failure_that_cannot_be_dead_lettered_is_left_to_redelivery():
    event = {"Records": [record("1", "permanent"), record("2", "ok")]}
    assert handle_batch(event, handler, FakeMessaging(fail_sends=True)) == {
        "batchItemFailures": [{"itemIdentifier": "1"}]}


def test_an_empty_or_all_good_batch_reports_nothing():
    assert handle_batch({"Records": []}, handler, FakeMessaging()) == {"batchItemFailures": []}
    assert handle_batch({}, handler, FakeMessaging()) == {"batchItemFailures": []}
    assert handle_batch({"Records": [record("1", "ok")]}, handler, FakeMessaging()) == {
        "batchItemFailures": []}


def test_each_record_is_handled_in_the_flow_its_envelope_names():
    seen: list[str | None] = []
    event_id = "0b7c6a52-5d8e-4f7e-9a51-3c1f1e2d9b10"
    bodies = ['{"event_id": "e", "correlation_id": "checkout-42:retry.1"}',
              # a producer that set none, or one we would not print: the event id stands in
              json.dumps({"event_id": event_id}),
              json.dumps({"event_id": event_id, "correlation_id": "two words\nforged line"}),
              "not json", "[1, 2]"]
    event = {"Records": [record(str(n), body) for n, body in enumerate(bodies)]}
    assert handle_batch(event, lambda rec: seen.append(correlation.current()),
                        FakeMessaging()) == {"batchItemFailures": []}
    assert seen == ["checkout-42:retry.1", event_id, event_id, None, None]
    assert correlation.current() is None  # nothing leaks past the batch
