"""One X-Correlation-Id through a whole replenishment: the shop echoes it, every event of the
flow carries it (shop and factory outboxes), and the factory keeps it on its production order.
(The log lines that carry it: tests/e2e/test_correlation_logs.py.)"""
from __future__ import annotations

import json

import requests
from sqlalchemy import select

from inventory_core import correlation
from inventory_core.adapters.models.factory import FactoryOutbox, ProductionOrder
from inventory_core.adapters.models.shop import ShopOutbox
from tests.integration.conftest import wait_for

FLOW = "checkout-42:retry.1"


def buy(stack, headers: dict, item_name: str = "Item2", quantity: int = 5):
    return requests.post(f"{stack.shop.url}/purchases", timeout=15, headers=headers, json={
        "item_name": item_name, "quantity": quantity, "requester": "tester"})


def events(sessions, model) -> list[dict]:
    with sessions() as session:
        return [json.loads(body) for body in
                session.scalars(select(model.body).order_by(model.outbox_id))]


def test_the_shop_answers_a_new_id_for_a_missing_or_unusable_one(stack):
    answered = set()
    for offered in (None, "", "x" * 37, "two words", "<script>", "a\tb"):
        headers = {} if offered is None else {correlation.HEADER: offered}
        answer = buy(stack, headers, quantity=1)
        echoed = answer.headers[correlation.HEADER]
        assert echoed != offered and correlation.is_valid(echoed), answer.status_code
        answered.add(echoed)
    assert len(answered) == 6  # a new one each time


def test_the_seed_route_and_errors_echo_the_id_too(stack):
    seed = requests.post(f"{stack.shop.url}/item", timeout=15, headers={
        correlation.HEADER: "seed-1"}, json={"item_name": "Item1", "quantity": 1,
                                             "requester": "tester"})
    refused = buy(stack, {correlation.HEADER: "bad-1"}, quantity=0)
    assert (seed.status_code, seed.headers[correlation.HEADER]) == (200, "seed-1")
    assert (refused.status_code, refused.headers[correlation.HEADER]) == (422, "bad-1")


def test_every_event_of_a_replenishment_carries_the_purchases_correlation_id(stack):
    stack.start("order", "production", "delivery")
    answer = buy(stack, {correlation.HEADER: FLOW})
    assert (answer.status_code, answer.headers[correlation.HEADER]) == (409, FLOW)
    wait_for(lambda: [o for o in stack.replenishments() if o["status"] == "fulfilled"],
             message="the replenishment fulfilled")

    shop_events = events(stack.shop_uow().sessions, ShopOutbox)
    factory_events = events(stack.factory_sessions(), FactoryOutbox)
    assert [e["type"] for e in shop_events] == ["replenishment.requested"]
    assert [e["type"] for e in factory_events] == ["production.due", "production.completed"]
    assert {e["correlation_id"] for e in shop_events + factory_events} == {FLOW}
    with stack.factory_sessions()() as session:
        assert session.scalars(select(ProductionOrder.correlation_id)).all() == [FLOW]


def test_a_restock_from_zero_tells_the_notifications_in_the_same_flow(stack):
    stack.start("order", "production", "delivery")
    assert buy(stack, {correlation.HEADER: "sell-out"}, "Item1", 1).status_code == 201
    wait_for(lambda: [o for o in stack.replenishments() if o["status"] == "fulfilled"],
             message="the reorder after the sell-out fulfilled")
    by_type = {e["type"]: e["correlation_id"] for e in events(stack.shop_uow().sessions,
                                                              ShopOutbox)}
    assert by_type == {"stock.depleted": "sell-out", "replenishment.requested": "sell-out",
                       "stock.restocked": "sell-out"}
