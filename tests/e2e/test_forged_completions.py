"""Issue 10's forged completions against the whole local stack (`python -m local_stack`): after
the seed's shortage is replenished, a hostile publisher with access to the production-completed
topic sends completions under new event ids — the same order with 1000 x its quantity, an order
that does not exist, the order for another item — and no stock moves. Each is recorded as a
delivery anomaly, shown on the dashboard and e-mailed to the operator.

Also (issue 11) the ready banner shows the replenishment deadlines, as configured."""
from __future__ import annotations

import time
import uuid

import boto3
import pytest
import requests

from inventory_core.domain.events import Event

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(300)]

ADMIN_TOKEN = "e2e-forged-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def wait_until(predicate, timeout: float, what: str, stack):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"{what}: not within {timeout}s\n{stack.process.tail(40)}")


def stock(stack) -> dict[str, int]:
    return {i["name"]: i["quantity"]
            for i in requests.get(f"{stack.shop_url}/item", timeout=10).json()}


def dashboard(stack) -> dict:
    return requests.get(f"{stack.shop_url}/dashboard/state", headers=ADMIN, timeout=10).json()


def publish_completion(stack, **payload) -> str:
    """What the factory's outbox would publish, sent by someone else: a new event id each time."""
    sns = boto3.client("sns", endpoint_url=stack.aws_url, region_name="ap-northeast-2",
                       aws_access_key_id="local", aws_secret_access_key="local")
    arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"]
               if t["TopicArn"].endswith("-production-completed"))
    event = Event("production.completed", {"completed_at": "2026-12-03T07:00:00.000+00:00",
                                           **payload}, event_id=str(uuid.uuid4()))
    sns.publish(TopicArn=arn, Message=event.to_json(), MessageAttributes={
        "type": {"DataType": "String", "StringValue": event.type}})
    return event.event_id


def test_forged_completions_change_no_stock(start_stack):
    stack = start_stack(ADMIN_TOKEN=ADMIN_TOKEN, REPLENISHMENT_ACCEPT_SECONDS="600")
    banner = "\n".join(stack.process.lines)
    assert ("replenishment deadlines: accept within 600s, at most 3 requests, grace 900s"
            in banner), banner

    shortage = requests.post(f"{stack.shop_url}/item", timeout=10, json={
        "item_name": "Item2", "quantity": 5, "requester": "e2e"})
    assert shortage.json()["message"].startswith("구매 실패!")
    [order] = wait_until(lambda: [o for o in requests.get(
        f"{stack.shop_url}/replenishment-orders", timeout=10).json()
        if o["status"] == "fulfilled"], 60, "the seed's order fulfilled", stack)
    assert stock(stack)["Item2"] == 10
    before = stock(stack)
    real = {"production_order_id": int(order["factory_reference"]),
            "replenishment_order_id": order["replenishment_order_id"], "factory_id": 2,
            "item_id": 2, "item_name": "Item2"}

    forged = {
        "order_ended": publish_completion(stack, **{**real, "quantity": 8 * 1000}),
        "unknown_order": publish_completion(stack, **{**real, "replenishment_order_id": 999_999,
                                                      "quantity": 5}),
        "wrong_item": publish_completion(stack, **{**real, "item_id": 1, "item_name": "Item1",
                                                   "factory_id": 1, "quantity": 8}),
    }
    shown = wait_until(lambda: len(dashboard(stack)["anomalies"]) >= 3 and dashboard(stack),
                       60, "three anomalies on the dashboard", stack)
    assert {a["event_id"]: a["kind"] for a in shown["anomalies"]} == {
        event_id: kind for kind, event_id in forged.items()}
    assert shown["summary"]["delivery_anomalies"] == 3
    assert stock(stack) == before  # nothing moved
    ledger = [e for e in shown["ledger"] if e["reason"] == "restock"]
    assert [e["delta"] for e in ledger] == [8]  # the one real restock
    wait_until(lambda: sum(m["subject"].startswith("[Delivery anomaly]") and m["status"] == "sent"
                           for m in dashboard(stack)["emails"]) == 3,
               60, "three anomaly e-mails to the operator", stack)
