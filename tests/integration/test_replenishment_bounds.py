"""A replenishment order's size is bounded and its status is one the state machine knows, on
SQLite and MariaDB (issue 11: "one anonymous request sizes production")."""
from __future__ import annotations

import pytest
from sqlalchemy import column, insert, table, text, update
from sqlalchemy.exc import DBAPIError

from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.shop import ReorderRule, ReplenishmentOrder
from inventory_core.service_layer import shop_service
from shop_api import create_app
from tests.helpers import shop_uow


@pytest.fixture
def client(shop_url):
    app = create_app({"SHOP_DATABASE_URL": shop_url, "PUBLISH_AFTER_COMMIT": False,
                      "TESTING": True})
    return app.test_client()


def test_one_huge_anonymous_purchase_orders_at_most_ten_times_the_target(client):
    answer = client.post("/item", json={"item_name": "Item3", "quantity": 999999,
                                        "requester": "anyone"})
    assert answer.status_code == 200  # the seed's shortage answer
    orders = client.get("/replenishment-orders").get_json()
    assert [(o["item_id"], o["quantity"]) for o in orders] == [(3, 100)]
    assert client.get("/items/3").get_json()["max_order_quantity"] == 100


def test_the_seed_story_still_orders_eight(shop_url):
    order = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun").replenishment
    assert (order["quantity"], order["status"], order["request_count"]) == (8, "requested", 1)


def test_an_items_own_maximum_is_used_and_shown(client, shop_url):
    with session_factory(shop_url).begin() as session:
        session.add(ReorderRule(item_id=1, reorder_point=2, target_level=20, multiple=5,
                                max_order_quantity=25))
    assert client.get("/items/1").get_json()["max_order_quantity"] == 25
    assert {i["item_id"]: i["max_order_quantity"] for i in client.get("/items").get_json()} == {
        1: 25, 2: 100, 3: 100}
    order = shop_service.purchase(shop_uow(shop_url), "Item1", 500, "x").replenishment
    assert order["quantity"] == 25
    spec = client.get("/openapi.json").get_json()["components"]["schemas"]["Item"]
    assert "max_order_quantity" in spec["properties"]


def test_the_database_refuses_a_maximum_below_one_multiple(shop_url):
    with pytest.raises(DBAPIError), session_factory(shop_url).begin() as session:  # MariaDB: 4025
        session.add(ReorderRule(item_id=1, reorder_point=1, target_level=10, multiple=6,
                                max_order_quantity=5))


def test_the_database_refuses_a_status_the_state_machine_does_not_know(shop_url):
    shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun")
    with pytest.raises(DBAPIError), session_factory(shop_url).begin() as session:  # MariaDB: 4025
        session.execute(update(ReplenishmentOrder).values(status="shipped"))


def test_an_acceptance_after_the_order_ended_moves_nothing(shop_url):
    order = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun").replenishment
    order_id = order["replenishment_order_id"]
    shop_service.receive_stock(shop_uow(shop_url), "9f0c3d56-0000-4000-8000-000000000001", 2, 8,
                               order_id)
    assert shop_service.mark_replenishment_accepted(shop_uow(shop_url), order_id, "17")
    after = shop_service.get_replenishment(shop_uow(shop_url), order_id)
    assert (after["status"], after["factory_reference"]) == ("fulfilled", None)


def test_open_orders_from_before_the_migration_count_as_requested_once(backend, tmp_path):
    from inventory_core.adapters.migrate import upgrade
    from tests.conftest import new_database_url

    url, drop = new_database_url(backend, tmp_path, "mig4")
    try:
        upgrade("shop", url, "0003")
        with session_factory(url).begin() as session:
            session.execute(text(
                "INSERT INTO factories (factory_id, name, locate) VALUES (1, 'F', 'k')"))
            session.execute(text("INSERT INTO items (item_id, name, price, quantity, factory_id) "
                                 "VALUES (1, 'Item1', 1, 0, 1)"))
            # `trigger` is a reserved word on MySQL: let SQLAlchemy quote it.
            orders = table("replenishment_orders", *(column(c) for c in (
                "item_id", "open_item_id", "quantity", "status", "trigger", "requester",
                "created_at")))
            session.execute(insert(orders).values(
                item_id=1, open_item_id=1, quantity=10, status="requested", trigger="shortage",
                requester="a", created_at="2026-12-01 00:00:00"))
        upgrade("shop", url)
        order = shop_service.get_replenishment(shop_uow(url), 1)
        assert (order["request_count"], order["requested_at"]) == (1, "2026-12-01T00:00:00+00:00")
    finally:
        drop()
