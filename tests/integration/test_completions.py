"""Issue 10, "completions must match an open order", on SQLite and MariaDB: a completion moves
stock only for an open replenishment order of the same item, from its factory, under the
production order the factory accepted, for no more than was ordered; every other one changes no
stock and is recorded (and e-mailed) as an anomaly. A short delivery is stocked and reorders."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.shop import DeliveryAnomaly, ShopOutbox
from inventory_core.service_layer import replenishments, shop_service
from tests.helpers import shop_state, shop_uow


def new_id() -> str:
    return str(uuid.uuid4())


def open_item2_order(url: str, reference: str | None = "41") -> dict:
    """The seed's story: 5 x Item2 with 2 in stock orders 8 from Factory2 (accepted as 41)."""
    order = shop_service.purchase(shop_uow(url), "Item2", 5, "jeonghun").replenishment
    if reference:
        shop_service.mark_replenishment_accepted(shop_uow(url), order["replenishment_order_id"],
                                                 reference)
    return order


def complete(url: str, order_id: int | None, item_id: int = 2, quantity: int = 8,
             production_order_id: int = 41, factory_id: int = 2, event_id: str | None = None):
    return shop_service.receive_stock(shop_uow(url), event_id or new_id(), item_id, quantity,
                                      order_id, production_order_id=production_order_id,
                                      factory_id=factory_id)


def anomalies(url: str) -> list[tuple[str, int | None, int]]:
    with session_factory(url)() as session:
        return [(a.kind, a.replenishment_order_id, a.quantity) for a in session.scalars(
            select(DeliveryAnomaly).order_by(DeliveryAnomaly.anomaly_id))]


def anomaly_events(url: str) -> list[dict]:
    with session_factory(url)() as session:
        return [json.loads(body)["payload"] for body in session.scalars(
            select(ShopOutbox.body).where(ShopOutbox.event_type == "delivery.anomaly")
            .order_by(ShopOutbox.outbox_id))]


def test_the_matching_completion_stocks_once_and_closes_the_order(shop_url):
    order_id = open_item2_order(shop_url)["replenishment_order_id"]
    event_id = new_id()
    first = complete(shop_url, order_id, event_id=event_id)
    again = complete(shop_url, order_id, event_id=event_id)  # SQS delivers it twice
    assert (first.applied, first.quantity, first.anomaly) == (True, 10, None)
    assert not again.applied
    order = shop_service.get_replenishment(shop_uow(shop_url), order_id)
    assert (order["status"], order["received_quantity"]) == ("fulfilled", 8)
    assert anomalies(shop_url) == []


@pytest.mark.parametrize("claim, kind", [
    ({"quantity": 8000}, "over_delivery"),  # the same order, 1000 x the quantity
    ({"order": 999}, "unknown_order"),
    ({"order": None}, "unknown_order"),
    ({"item_id": 1}, "wrong_item"),
    ({"factory_id": 1}, "wrong_factory"),
    ({"production_order_id": 77}, "wrong_production_order"),
], ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v)))
def test_a_completion_for_no_open_order_of_its_item_changes_no_stock(shop_url, claim, kind):
    order_id = open_item2_order(shop_url)["replenishment_order_id"]
    before = shop_state(shop_url)
    claim = dict(claim)  # shared by both backends
    target = claim.pop("order", order_id)
    result = complete(shop_url, target, **claim)
    assert result.anomaly == kind and result.quantity is None
    after = shop_state(shop_url)
    assert after["stock"] == before["stock"] and after["ledger"] == before["ledger"]
    assert shop_service.get_replenishment(shop_uow(shop_url), order_id)["status"] == "accepted"
    assert anomalies(shop_url) == [(kind, target, claim.get("quantity", 8))]
    [event] = anomaly_events(shop_url)  # the operator's e-mail, through the notify consumer
    assert event["kind"] == kind and "no stock changed" in event["detail"]
    # The real completion still arrives and is stocked.
    assert complete(shop_url, order_id).quantity == 10


def test_a_completion_of_an_item_the_shop_does_not_know_is_left_to_the_dead_letters(shop_url):
    order_id = open_item2_order(shop_url)["replenishment_order_id"]
    before = shop_state(shop_url)
    with pytest.raises(shop_service.ItemNotFound):  # retried, dead-lettered, redriven once fixed
        complete(shop_url, order_id, item_id=99)
    assert shop_state(shop_url) == before and anomalies(shop_url) == []


@pytest.mark.parametrize("end", ["fulfilled", "cancelled"])
def test_a_completion_for_an_order_that_ended_changes_no_stock(shop_url, end):
    order_id = open_item2_order(shop_url)["replenishment_order_id"]
    if end == "fulfilled":
        complete(shop_url, order_id)
    else:
        replenishments.cancel(shop_uow(shop_url), order_id)
    stock = shop_state(shop_url)["stock"]
    # A forged copy under a new event id: the same order, its quantity or 1000 x it.
    for quantity in (8, 8000):
        assert complete(shop_url, order_id, quantity=quantity).anomaly == "order_ended"
    assert shop_state(shop_url)["stock"] == stock
    assert [kind for kind, _, _ in anomalies(shop_url)] == ["order_ended", "order_ended"]


def test_a_completion_before_the_acceptance_was_recorded_still_counts(shop_url):
    order_id = open_item2_order(shop_url, reference=None)["replenishment_order_id"]
    assert complete(shop_url, order_id, production_order_id=5).quantity == 10
    # ...and the acceptance that arrives after it moves the fulfilled order nowhere.
    shop_service.mark_replenishment_accepted(shop_uow(shop_url), order_id, "5")
    assert shop_service.get_replenishment(shop_uow(shop_url), order_id)["status"] == "fulfilled"


def test_a_short_delivery_is_stocked_once_and_reorders_below_the_reorder_point(shop_url):
    # Item1: 1 in stock; selling it leaves 0 < reorder point 1 -> an order of 10.
    order = shop_service.purchase(shop_uow(shop_url), "Item1", 1, "a").replenishment
    shop_service.mark_replenishment_accepted(shop_uow(shop_url), order["replenishment_order_id"],
                                             "3")
    assert order["quantity"] == 10
    result = complete(shop_url, order["replenishment_order_id"], item_id=1, quantity=4,
                      production_order_id=3, factory_id=1)
    assert (result.quantity, result.short) == (4, True)
    closed = shop_service.get_replenishment(shop_uow(shop_url), order["replenishment_order_id"])
    assert (closed["status"], closed["received_quantity"]) == ("fulfilled", 4)
    # 4 >= reorder point 1: stock is fine, nothing more is ordered.
    assert [o["status"] for o in shop_service.list_replenishments(shop_uow(shop_url))] == [
        "fulfilled"]


def test_a_short_delivery_that_leaves_stock_below_the_reorder_point_orders_again(shop_url):
    from inventory_core.adapters.models.shop import ReorderRule
    with session_factory(shop_url).begin() as session:
        session.add(ReorderRule(item_id=2, reorder_point=5, target_level=10, multiple=1))
    order = open_item2_order(shop_url)
    assert order["quantity"] == 8
    result = complete(shop_url, order["replenishment_order_id"], quantity=2)
    assert (result.quantity, result.short) == (4, True)  # 2 + 2 < reorder point 5
    newest, closed = shop_service.list_replenishments(shop_uow(shop_url))
    assert (closed["status"], closed["received_quantity"]) == ("fulfilled", 2)
    assert (newest["status"], newest["quantity"], newest["trigger"]) == (
        "requested", 6, "reorder_point")  # up to the target again
