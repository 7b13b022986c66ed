"""Poison messages never block good ones: nine of ten applied, the poison dead-lettered
(after maxReceiveCount when transient, at once when permanent), recorded by the dead-letter
consumer, listed by the admin API and the CLI, and redriven back to its source queue."""
from __future__ import annotations

import json
import time

from consumers import dead_letter
from inventory_core.adapters.models.shop import Item
from inventory_core.domain.events import new_event
from inventory_core.service_layer import dead_letters, shop_service
from inventory_core.topology import TOPOLOGY
from tests.integration.conftest import wait_for

TYPE = {"type": {"DataType": "String", "StringValue": "production.completed"}}


def completed(item_id: int, quantity: int, replenishment_order_id: int = 1000) -> str:
    return new_event("production.completed", {
        "production_order_id": 5000 + item_id, "replenishment_order_id": replenishment_order_id,
        "factory_id": 1, "item_id": item_id, "item_name": f"Item{item_id}", "quantity": quantity,
        "completed_at": "2026-01-01T00:00:00.000+00:00"}).to_json()


def send_ten(stack, poison_body: str, position: int = 4) -> list[str]:
    bodies = [completed(1 + n % 3, 1 + n) for n in range(9)]
    bodies.insert(position, poison_body)
    sqs = stack.messaging.client("sqs")
    answer = sqs.send_message_batch(QueueUrl=stack.messaging.queue_url_of("delivery"), Entries=[
        {"Id": str(n), "MessageBody": body, "MessageAttributes": TYPE}
        for n, body in enumerate(bodies)])
    assert len(answer["Successful"]) == 10
    return bodies


def stock(stack) -> dict[int, int]:
    return {i["item_id"]: i["quantity"] for i in shop_service.list_items(stack.shop_uow())}


def anomalies(stack) -> int:
    from sqlalchemy import func, select

    from inventory_core.adapters.models.shop import DeliveryAnomaly
    with stack.shop_uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(DeliveryAnomaly))


def nine_applied(stack, before: dict[int, int]) -> None:
    """The nine good messages were each handled once: they name replenishment order 1000, which
    the shop does not have, so each is a recorded anomaly and no stock moved (issue 10)."""
    assert anomalies(stack) == 9
    after = stock(stack)
    assert after == before
    for item_id in after:
        assert shop_service.ledger_balance(stack.shop_uow(), item_id) == after[item_id]


def test_transient_poison_reaches_the_dlq_after_max_receive_count_and_is_redriven(stack):
    before = stock(stack)
    poison = completed(999, 7)  # an item the shop does not know (yet): retried, then dead
    send_ten(stack, poison)
    delivery = stack.poller("delivery", batch_window=1.0)
    started = time.monotonic()
    first = delivery.poll_once()
    assert (first.received, first.deleted, first.failed) == (10, 9, 1)
    nine_applied(stack, before)

    stack.start("delivery", functions={"delivery": delivery.function})  # keep polling
    rows = wait_for(lambda: dead_letters.list_dead_letters(stack.shop_uow()), timeout=20,
                    message="the poison recorded as a dead letter")
    dead_after = time.monotonic() - started
    [row] = rows
    max_receives = TOPOLOGY.queue("delivery").max_receive_count
    assert row["source_queue"] == f"{stack.settings.name_prefix}-delivery-queue"
    assert row["dlq"] == f"{stack.settings.name_prefix}-delivery-queue-dlq"
    assert row["body"] == poison and row["status"] == "dead"
    assert row["event_type"] == "production.completed"
    assert row["event_id"] == json.loads(poison)["event_id"]
    assert row["receive_count"] > max_receives and row["failure_reason"] is None
    assert row["attributes"]["type"]["StringValue"] == "production.completed"
    # receives on the source queue: the first batch, then one per visibility timeout
    assert stack.pollers["delivery"].stats.redeliveries + 1 == max_receives
    nine_applied(stack, before)

    listed = stack.admin("GET", "/dead-letters", params={"status": "dead"})
    assert listed.status_code == 200 and [r["dead_letter_id"] for r in listed.json()] == [
        row["dead_letter_id"]]
    assert stack.admin("GET", f"/dead-letters/{row['dead_letter_id']}").json()["body"] == poison
    assert stack.admin("GET", "/dead-letters/999999").status_code == 404

    # The operator fixes the catalogue, then redrives: the message is judged like any other
    # (order 1000 does not exist: an anomaly for the operator, no stock).
    with stack.shop_uow() as uow:
        uow.session.add(Item(item_id=999, name="Item999", price=1, quantity=0, factory_id=1))
        uow.commit()
    answer = stack.admin("POST", f"/dead-letters/{row['dead_letter_id']}/redrive")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "redriven" and answer.json()["redriven_at"]
    wait_for(lambda: anomalies(stack) == 10, message="the redriven message applied")
    assert stack.admin("POST", f"/dead-letters/{row['dead_letter_id']}/redrive").status_code == 409
    time.sleep(1.5)
    assert stock(stack)[999] == 0 and len(dead_letters.list_dead_letters(stack.shop_uow())) == 1
    assert anomalies(stack) == 10
    print(f"poison dead-lettered after {dead_after:.1f}s")


def test_permanent_poison_is_dead_lettered_at_once(stack):
    before = stock(stack)
    send_ten(stack, "{not json", position=0)
    delivery = stack.poller("delivery", batch_window=1.0)
    first = delivery.poll_once()
    assert (first.received, first.deleted, first.failed) == (10, 10, 0)  # poison moved by us
    nine_applied(stack, before)
    dlq = stack.poller("delivery", dead_letter=True)
    wait_for(lambda: dlq.poll_once().deleted, timeout=5, message="the DLQ message recorded")
    [row] = dead_letters.list_dead_letters(stack.shop_uow())
    assert row["body"] == "{not json" and row["event_id"] is None and row["event_type"] is None
    assert row["failure_reason"].startswith("not JSON") and row["receive_count"] == 1

    result = stack.shop_app.test_cli_runner().invoke(args=["dead-letters", "list"])
    assert result.exit_code == 0 and f"#{row['dead_letter_id']}" in result.output
    assert "not JSON" in result.output
    result = stack.shop_app.test_cli_runner().invoke(args=["dead-letters", "redrive", "--all"])
    assert result.exit_code == 0 and "redrove 1" in result.output, result.output
    # Back on its source queue without the dead-lettering's own attributes.
    [message] = wait_for(lambda: stack.messaging.receive(stack.messaging.queue_url_of("delivery")),
                         timeout=5, message="the redriven message on the source queue")
    assert message["Body"] == "{not json"
    assert set(message.get("MessageAttributes", {})) == {"type"}
    redriven = dead_letters.get_dead_letter(stack.shop_uow(), row["dead_letter_id"])
    assert redriven["status"] == "redriven"


def test_dead_letter_consumer_is_idempotent_and_takes_any_body(stack):
    arn = (f"arn:aws:sqs:{stack.settings.aws_region}:123456789012:"
           f"{stack.settings.name_prefix}-order-queue-dlq")
    record = {"messageId": "m-1", "receiptHandle": "r", "body": "\x00garbage\udcff"[:8],
              "attributes": {"ApproximateReceiveCount": "9"}, "messageAttributes": {},
              "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "x"}
    assert dead_letter.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    again = {**record, "attributes": {"ApproximateReceiveCount": "10"}}
    assert dead_letter.handler({"Records": [again, {**record, "messageId": "m-2",
                                                    "body": "[1, 2]"}]}, None) == {
        "batchItemFailures": []}
    rows = {r["message_id"]: r for r in dead_letters.list_dead_letters(stack.shop_uow())}
    assert set(rows) == {"m-1", "m-2"}
    assert rows["m-1"]["receive_count"] == 10
    assert rows["m-1"]["source_queue"] == f"{stack.settings.name_prefix}-order-queue"
    assert rows["m-1"]["last_seen"] >= rows["m-1"]["first_seen"]


def test_admin_dead_letter_routes_need_the_token(stack):
    import requests
    assert requests.get(f"{stack.shop.url}/admin/dead-letters", timeout=5).status_code == 401
    redrive = requests.post(f"{stack.shop.url}/admin/dead-letters/redrive", timeout=5)
    assert redrive.status_code == 401
    answer = stack.admin("POST", "/dead-letters/redrive", json={})
    assert answer.status_code == 200 and answer.json() == {"redriven": 0, "dead_letters": []}
