"""consumers.production.handler on a Lambda-shaped SQS event, against moto's server over HTTP."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from consumers import production, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging, ensure_topology
from inventory_core.adapters.models.factory import FactoryOutbox
from inventory_core.domain.events import new_event, parse_event
from inventory_core.service_layer import factory_service
from inventory_core.service_layer.unit_of_work import UnitOfWork

ORDER = dict(replenishment_order_id=77, factory_id=1, item_id=1, item_name="Item1", quantity=4,
             requester="jeonghun")


@pytest.fixture
def deployment(settings, monkeypatch):
    """The topology on moto and the environment a deployed production consumer would have."""
    urls = ensure_topology(settings, visibility_timeout=1)
    for name, value in {"FACTORY_DATABASE_URL": settings.factory_database_url,
                        "NAME_PREFIX": settings.name_prefix,
                        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
                        "AWS_REGION": settings.aws_region}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FACTORY_DATABASE_SECRET_ARN", raising=False)
    monkeypatch.delenv("PRODUCTION_SECONDS", raising=False)
    runtime.reset()
    yield urls
    runtime.reset()


def sqs_record(settings, body: str, message_id: str | None = None) -> dict:
    return {"messageId": message_id or str(uuid.uuid4()),
            "receiptHandle": "handle-" + uuid.uuid4().hex,
            "body": body, "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {"type": {"stringValue": "production.due", "dataType": "String"}},
            "eventSourceARN": f"arn:aws:sqs:ap-northeast-2:123456789012:"
                              f"{settings.name_prefix}-production-queue",
            "awsRegion": "ap-northeast-2"}


def receive_all(sqs, url: str, wait: int = 1) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                   MessageAttributeNames=["All"]).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def accept(settings) -> dict:
    # Published to the real production queue right after commit, as the factory API does.
    uow = UnitOfWork(session_factory(settings.factory_database_url), FactoryOutbox,
                     Messaging(settings))
    order, created = factory_service.accept_production_order(uow, **ORDER, lead_time_override=0)
    assert created
    return order


def test_a_due_message_completes_the_order_and_a_malformed_one_is_dead_lettered(settings,
                                                                                 deployment):
    sqs = Messaging(settings).client("sqs")
    order = accept(settings)
    [due] = receive_all(sqs, deployment["production"])
    event = {"Records": [sqs_record(settings, "{not json", "poison-1"),
                         sqs_record(settings, due["Body"], due["MessageId"])]}

    assert production.handler(event, None) == {"batchItemFailures": []}

    stored = factory_service.get_production_order(
        UnitOfWork(session_factory(settings.factory_database_url), FactoryOutbox),
        order["production_order_id"])
    assert stored["status"] == "completed"
    # production.completed went through SNS (raw delivery) to the shop's delivery queue.
    [delivered] = receive_all(sqs, deployment["delivery"])
    completed = parse_event(delivered["Body"], expected_types=("production.completed",))
    assert completed.payload["production_order_id"] == order["production_order_id"]
    assert completed.payload["replenishment_order_id"] == ORDER["replenishment_order_id"]
    assert completed.payload["quantity"] == ORDER["quantity"]
    assert delivered["MessageAttributes"]["type"]["StringValue"] == "production.completed"
    with session_factory(settings.factory_database_url)() as session:
        assert all(row.published_at is not None for row in session.scalars(select(FactoryOutbox)))
    # The malformed body is in the production queue's DLQ at once, with the reason.
    dlq = Messaging(settings).queue_url_of("production", dead_letter=True)
    [dead] = receive_all(sqs, dlq)
    assert dead["Body"] == "{not json"
    assert "not JSON" in dead["MessageAttributes"]["failure_reason"]["StringValue"]


def test_a_duplicate_delivery_publishes_production_completed_once(settings, deployment):
    sqs = Messaging(settings).client("sqs")
    order = accept(settings)
    [due] = receive_all(sqs, deployment["production"])
    twice = {"Records": [sqs_record(settings, due["Body"]), sqs_record(settings, due["Body"])]}
    assert production.handler(twice, None) == {"batchItemFailures": []}
    assert production.handler(twice, None) == {"batchItemFailures": []}
    delivered = receive_all(sqs, deployment["delivery"])
    assert len(delivered) == 1
    assert json.loads(delivered[0]["Body"])["payload"]["production_order_id"] == (
        order["production_order_id"])


def test_wrong_event_types_and_unknown_orders_go_to_the_dlq(settings, deployment):
    sqs = Messaging(settings).client("sqs")
    wrong_type = new_event("stock.depleted", {"item_id": 1, "item_name": "Item1", "quantity": 0})
    unknown = new_event("production.due", {"production_order_id": 999_999})
    event = {"Records": [sqs_record(settings, wrong_type.to_json()),
                         sqs_record(settings, unknown.to_json())]}
    assert production.handler(event, None) == {"batchItemFailures": []}
    dead = receive_all(sqs, Messaging(settings).queue_url_of("production", dead_letter=True))
    assert sorted(json.loads(m["Body"])["event_id"] for m in dead) == sorted(
        [wrong_type.event_id, unknown.event_id])
    assert receive_all(sqs, deployment["delivery"], wait=0) == []


def test_a_database_failure_is_reported_for_redelivery(settings, deployment, monkeypatch,
                                                       tmp_path):
    # A database without the schema: the record fails with a (transient-looking) database error.
    monkeypatch.setenv("FACTORY_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    runtime.reset()
    due = new_event("production.due", {"production_order_id": 1})
    event = {"Records": [sqs_record(settings, due.to_json(), "retry-me")]}
    failed = {"batchItemFailures": [{"itemIdentifier": "retry-me"}]}
    assert production.handler(event, None) == failed
    sqs = Messaging(settings).client("sqs")
    assert receive_all(sqs, Messaging(settings).queue_url_of("production", dead_letter=True),
                       wait=0) == []
