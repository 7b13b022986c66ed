"""The whole replenishment flow through the real topics and queues (moto over HTTP), both APIs
behind real HTTP servers and the real consumer functions fed by Lambda-like pollers."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from consumers import factory_client
from inventory_core.service_layer import shop_service
from tests.integration.conftest import wait_for

CONSUMERS = ("order", "production", "delivery")


def all_fulfilled(stack, count: int):
    orders = stack.replenishments()
    return len(orders) == count and all(o["status"] == "fulfilled" for o in orders) and orders


def test_failed_purchase_is_replenished_through_the_queues(stack):
    stack.start(*CONSUMERS)
    assert stack.buy("Item2", 5, "jeonghun") == "구매 실패! 남은 재고: 2, 생산요청 진행중"
    [order] = wait_for(lambda: all_fulfilled(stack, 1), message="the replenishment fulfilled")

    assert order["item_id"] == 2 and order["factory_reference"] is not None
    assert order["received_quantity"] == order["quantity"] >= 3
    item = stack.item("Item2")
    assert item["quantity"] == 2 + order["quantity"]
    assert shop_service.ledger_balance(stack.shop_uow(), 2) == item["quantity"]
    logs = requests.get(f"{stack.factory.url}/log", timeout=10, headers={
        "Authorization": f"Bearer {stack.settings.admin_token}"}).json()  # names in full
    produced = [log for log in logs
                if log["item_name"] == "Item2" and log["requester"] == "jeonghun"]
    assert [log["quantity"] for log in produced] == [order["quantity"]]
    # The seed's system test: once production is done, the same purchase succeeds.
    assert stack.buy("Item2", 5, "jeonghun").startswith("구매 완료! 남은 재고: ")
    assert stack.pending_outbox("shop") == 0 and stack.pending_outbox("factory") == 0


def test_twenty_failed_purchases_make_one_production_order(stack):
    stack.start(*CONSUMERS)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda n: stack.buy("Item3", 4, f"buyer{n}"), range(20)))
    assert all(a.startswith("구매 실패!") for a in answers)
    [order] = wait_for(lambda: all_fulfilled(stack, 1), message="one replenishment fulfilled")
    assert stack.production_orders() == 1
    assert stack.item("Item3")["quantity"] == 3 + order["quantity"]
    assert shop_service.ledger_balance(stack.shop_uow(), 3) == 3 + order["quantity"]


def duplicating(function, stack, queue_key: str):
    """Send every message this function receives once more to its queue: at-least-once, twice."""
    copied: set[str] = set()
    url = stack.messaging.queue_url_of(queue_key)

    def twice(event, context):
        for record in event["Records"]:
            if record["body"] not in copied:
                copied.add(record["body"])
                attributes = {name: {"DataType": v["dataType"], "StringValue": v["stringValue"]}
                              for name, v in record["messageAttributes"].items()}
                stack.messaging.send(url, record["body"], attributes)
        return function(event, context)
    return twice


def test_every_message_delivered_twice_restocks_once(stack):
    from consumers import delivery, production
    from consumers import order as order_consumer
    stack.start(*CONSUMERS, functions={
        "order": duplicating(order_consumer.handler, stack, "order"),
        "production": duplicating(production.handler, stack, "production"),
        "delivery": duplicating(delivery.handler, stack, "delivery")})
    for item, quantity in (("Item1", 3), ("Item2", 5)):
        assert stack.buy(item, quantity).startswith("구매 실패!")
    orders = wait_for(lambda: all_fulfilled(stack, 2), message="both replenishments fulfilled")
    # Let the copies arrive and be ignored before looking at the results.
    wait_for(lambda: all(stack.pollers[k].stats.received >= 4 for k in CONSUMERS), timeout=15,
             message="every copy received")
    time.sleep(1.5)
    for order in orders:
        initial = {1: 1, 2: 2}[order["item_id"]]
        item = shop_service.get_item(stack.shop_uow(), order["item_id"])
        assert item["quantity"] == initial + order["quantity"]
        assert shop_service.ledger_balance(stack.shop_uow(), order["item_id"]) == item["quantity"]
        assert stack.production_orders(order["replenishment_order_id"]) == 1
    assert stack.production_orders() == 2
    assert all(stack.pollers[k].stats.received == 4 for k in CONSUMERS), stack.figures()
    assert all(stack.pollers[f"{k}-dlq"].stats.received == 0 for k in CONSUMERS)


def test_factory_down_for_a_while_then_every_order_fulfilled_once(stack, monkeypatch):
    monkeypatch.setattr(factory_client, "BACKOFF_SECONDS", 0.1)
    stack.factory.stop()  # connection refused first
    stack.start(*CONSUMERS)
    for item, quantity in (("Item1", 2), ("Item2", 3), ("Item3", 4)):
        assert stack.buy(item, quantity).startswith("구매 실패!")
    order_poller = stack.pollers["order"]
    wait_for(lambda: order_poller.stats.failed >= 3, message="refused calls")
    stack.factory_switch.down = True  # then up, but answering 503
    stack.factory.start()
    wait_for(lambda: stack.factory_switch.refused >= 3, message="503 answers")
    time.sleep(1.0)
    stack.factory_switch.down = False
    orders = wait_for(lambda: all_fulfilled(stack, 3), timeout=25, message="all fulfilled")
    assert order_poller.stats.redeliveries >= 3  # every order came back at least once
    for order in orders:
        assert stack.production_orders(order["replenishment_order_id"]) == 1
        item = shop_service.get_item(stack.shop_uow(), order["item_id"])
        assert shop_service.ledger_balance(stack.shop_uow(), order["item_id"]) == item["quantity"]
    assert stack.production_orders() == 3
    assert stack.pollers["order-dlq"].stats.received == 0
