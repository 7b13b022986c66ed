"""Each consumer on its own, against moto and a real database: the order consumer's retries and
permanent failures against a scripted factory, the delivery consumer's idempotency, and the
poller's Lambda semantics (delete on success, keep on failure)."""
from __future__ import annotations

import json
import time

import pytest
from flask import Flask, jsonify, request

from consumers import delivery, factory_client, order, runtime
from inventory_core.domain.events import new_event
from inventory_core.service_layer import replenishments, shop_service
from tests.integration.conftest import ServerThread, wait_for


class ScriptedFactory:
    """A factory API answering the statuses it is told, then 201."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.calls: list[dict] = []
        app = Flask("scripted-factory")

        @app.post("/production-orders")
        def accept():
            self.calls.append(request.get_json())
            status = self.statuses.pop(0) if self.statuses else 201
            if status >= 300:
                return jsonify(message=f"scripted {status}"), status
            return jsonify(production_order_id=77, **request.get_json()), status

        self.server = ServerThread(app).start()


@pytest.fixture
def scripted(stack, monkeypatch):
    monkeypatch.setattr(factory_client, "BACKOFF_SECONDS", 0.01)
    made = []

    def make(*statuses):
        factory = ScriptedFactory(statuses)
        made.append(factory)
        monkeypatch.setenv("FACTORY_API_URL", factory.server.url)
        runtime.reset()
        return factory
    yield make
    for factory in made:
        factory.server.stop()


def shortage(stack, item="Item2") -> tuple[int, dict]:
    """A failed purchase; its replenishment.requested message, as the order queue holds it."""
    result = shop_service.purchase(stack.shop_uow(stack.messaging), item, 50, "tester")
    # Hidden for a minute once received: a second shortage() must not receive this one again.
    [message] = wait_for(lambda: stack.messaging.receive(stack.messaging.queue_url_of("order"),
                                                         visibility_timeout=60),
                         timeout=5, message="the request on the order queue")
    return result.replenishment["replenishment_order_id"], message


def as_record(stack, message: dict, queue_key: str = "order") -> dict:
    from local_stack.poller import to_lambda_record
    url = stack.messaging.queue_url_of(queue_key)
    return to_lambda_record(message, stack.messaging.queue_arn(url), stack.settings.aws_region)


def test_order_consumer_retries_5xx_within_one_invocation(stack, scripted):
    factory = scripted(503, 502)
    replenishment_id, message = shortage(stack)
    answer = order.handler({"Records": [as_record(stack, message)]}, None)
    assert answer == {"batchItemFailures": []}
    assert len(factory.calls) == 3
    body = json.loads(message["Body"])
    assert factory.calls[0]["correlation_id"] == body["correlation_id"]
    assert factory.calls[0]["replenishment_order_id"] == replenishment_id
    saved = shop_service.get_replenishment(stack.shop_uow(), replenishment_id)
    assert saved["status"] == "accepted" and saved["factory_reference"] == "77"


def test_order_consumer_sends_a_4xx_to_the_dlq_at_once(stack, scripted):
    factory = scripted(404)
    _, message = shortage(stack)
    answer = order.handler({"Records": [as_record(stack, message)]}, None)
    assert answer == {"batchItemFailures": []}  # handled: moved to the DLQ by the consumer
    assert len(factory.calls) == 1  # a 4xx is never retried
    [dead] = wait_for(lambda: stack.messaging.receive(
        stack.messaging.queue_url_of("order", dead_letter=True)), timeout=5, message="DLQ")
    assert dead["Body"] == message["Body"]
    reason = dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert reason.startswith("factory answered 404")


def test_order_consumer_leaves_the_batch_to_redelivery_when_the_factory_is_down(stack, scripted):
    factory = scripted(*[503] * 10)
    _, first = shortage(stack, "Item1")
    _, second = shortage(stack, "Item3")
    records = [as_record(stack, first), as_record(stack, second)]
    answer = order.handler({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    assert len(factory.calls) == 3  # three attempts for the first; the second is not tried


def test_order_consumer_stops_retrying_before_the_lambda_times_out(stack, scripted, monkeypatch):
    factory = scripted(*[503] * 10)
    monkeypatch.setattr(factory_client, "BACKOFF_SECONDS", 2.0)  # longer than the slack below
    _, message = shortage(stack)

    class Remaining:
        def __init__(self, millis):
            self.millis = millis

        def get_remaining_time_in_millis(self):
            return self.millis
    one_call = sum(factory_client.TIMEOUT) * 1000
    records = {"Records": [as_record(stack, message)]}
    # not even one call fits: none starts, the message comes back later
    answer = order.handler(records, Remaining(order.SAFETY_MILLIS + 100))
    assert len(answer["batchItemFailures"]) == 1 and len(factory.calls) == 0
    # one call fits but not a retry after it: exactly one
    answer = order.handler(records, Remaining(order.SAFETY_MILLIS + one_call + 1000))
    assert len(answer["batchItemFailures"]) == 1 and len(factory.calls) == 1


def test_delivery_consumer_applies_an_event_once(stack):
    # Item1 sells out: an order of 10 opens; its completion arrives twice.
    order = shop_service.purchase(stack.shop_uow(), "Item1", 1, "tester").replenishment
    event = new_event("production.completed", {
        "production_order_id": 9, "replenishment_order_id": order["replenishment_order_id"],
        "factory_id": 1, "item_id": 1, "item_name": "Item1", "quantity": 10,
        "completed_at": "2026-01-01T00:00:00+00:00"})
    record = {"messageId": "a", "body": event.to_json(), "attributes": {},
              "eventSourceARN": "arn:aws:sqs:r:1:x-delivery-queue"}
    assert delivery.handler({"Records": [record, {**record, "messageId": "b"}]}, None) == {
        "batchItemFailures": []}
    assert shop_service.get_item(stack.shop_uow(), 1)["quantity"] == 0 + 10
    assert shop_service.ledger_balance(stack.shop_uow(), 1) == 10
    # The duplicate is recognised as one, not judged again (its order is closed by then) and
    # recorded as a delivery anomaly for the operator.
    assert replenishments.recent_anomalies(stack.shop_uow()) == []


def test_poller_keeps_the_whole_batch_when_the_function_raises(stack):
    url = stack.messaging.queue_url_of("delivery")
    for n in range(3):
        stack.messaging.send(url, f"message {n}")
    calls = []

    def crashing(event, context):
        calls.append(len(event["Records"]))
        assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    poller = stack.poller("delivery", crashing, batch_window=0.5)
    first = poller.poll_once()
    assert (first.received, first.deleted, first.errors) == (3, 0, 1)
    time.sleep(1.2)  # the visibility timeout
    second = poller.poll_once()
    assert (second.received, second.deleted, second.failed, second.redeliveries) == (3, 2, 1, 3)


def test_poller_treats_an_unknown_item_identifier_as_all_failed(stack):
    url = stack.messaging.queue_url_of("delivery")
    stack.messaging.send(url, "one", {"type": {"DataType": "String", "StringValue": "x.y"}})
    seen = []

    def answer_nonsense(event, context):
        seen.append(event)
        return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    stats = stack.poller("delivery", answer_nonsense).poll_once()
    assert (stats.received, stats.deleted, stats.failed) == (1, 0, 1)
    [record] = seen[0]["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith("delivery-queue")
    assert record["messageAttributes"]["type"] == {"stringValue": "x.y", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["md5OfBody"] and record["awsRegion"] == stack.settings.aws_region
