"""Issue 10's bad inputs, on SQLite and MariaDB: ids past their column's range, requesters that are
blank or carry control characters, values one character longer than their column, and a
Content-Type header on a request without a body. Each answers a 4xx (or, for the header, the
normal answer), never a 500, and changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from factory_api import create_app as create_factory
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.factory import ProductionOrder
from inventory_core.adapters.models.shop import Purchase
from inventory_core.config import Settings
from shop_api import create_app as create_shop
from tests.helpers import shop_state
from tests.signing import WRITER, SignedClient

ADMIN = {"Authorization": "Bearer hygiene-admin"}
HUGE = 10**19  # past BIGINT (2**63 - 1), as the issue tried
JSON_NO_BODY = {"Content-Type": "application/json"}
ORDER = dict(replenishment_order_id=41, factory_id=2, item_id=2, item_name="Item2", quantity=5,
             requester="jeonghun")
LOG = dict(factory_id=1, factory_name="Factory1", item_id=1, item_name="Item1", quantity=3,
           requester="seed")
BAD_REQUESTERS = ["a\r\nBcc: victim@example.com", "   ", "", "\t", "x\x00y", "\x1b[31mred",
                  "evil\u202etxt.exe", "line\u2028break", "zero\u200bwidth"]


@pytest.fixture
def shop(shop_url):
    app = create_shop({"SETTINGS": Settings(shop_database_url=shop_url,
                                            admin_token="hygiene-admin"),
                       "PUBLISH_AFTER_COMMIT": False})
    return app.test_client()


@pytest.fixture
def factory(factory_url):
    app = create_factory({"SETTINGS": Settings(factory_database_url=factory_url, **WRITER),
                          "PUBLISH_AFTER_COMMIT": False})
    return SignedClient(app.test_client())


def production_orders(url: str) -> list:
    with session_factory(url)() as session:
        return list(session.execute(select(ProductionOrder.replenishment_order_id,
                                           ProductionOrder.requester,
                                           ProductionOrder.correlation_id)).all())


# --- ids past their column's range ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["/items/{}", "/replenishment-orders/{}",
                                  "/admin/dead-letters/{}"])
@pytest.mark.parametrize("number", [HUGE, 2**63, 0])
def test_shop_ids_out_of_range_in_a_url_are_404(shop, path, number):
    answer = shop.get(path.format(number), headers=ADMIN)
    assert answer.status_code == 404 and answer.get_json()["message"]


def test_shop_ids_at_the_edge_of_their_range_are_just_not_found(shop):
    assert shop.get(f"/items/{2**31 - 1}").status_code == 404
    assert shop.get(f"/items/{2**63 - 1}").status_code == 404
    assert shop.get(f"/replenishment-orders/{2**63 - 1}").status_code == 404
    assert shop.post(f"/admin/dead-letters/{HUGE}/redrive", headers=ADMIN).status_code == 404
    assert shop.post(f"/admin/items/{HUGE}/stock-adjustments", headers=ADMIN,
                     json={"delta": 1, "reason": "count"}).status_code == 404


@pytest.mark.parametrize("item_id", [HUGE, 2**31, -1, 0])
def test_a_purchase_of_an_item_id_out_of_range_is_422(shop, shop_url, item_id):
    before = shop_state(shop_url)
    answer = shop.post("/purchases", json={"item_id": item_id, "quantity": 1, "requester": "a"})
    assert answer.status_code == 422 and "item_id" in answer.get_json()["errors"]
    assert shop_state(shop_url) == before


def test_factory_ids_out_of_range_in_a_url_are_404(factory):
    for number in (HUGE, 2**63, 0):
        assert factory.get(f"/production-orders/{number}").status_code == 404


@pytest.mark.parametrize("change", [{"replenishment_order_id": 2**63}, {"factory_id": 2**31},
                                    {"item_id": 2**31}, {"item_id": HUGE}])
def test_factory_ids_out_of_range_in_a_body_are_refused(factory, factory_url, change):
    assert factory.post("/production-orders", json={**ORDER, **change}).status_code == 422
    if "replenishment_order_id" not in change:
        assert factory.post("/log", json={**LOG, **change}).status_code == 400
    assert production_orders(factory_url) == []


# --- requesters ------------------------------------------------------------------------------

@pytest.mark.parametrize("requester", BAD_REQUESTERS)
def test_a_blank_or_control_character_requester_is_refused_everywhere(shop, shop_url, factory,
                                                                      factory_url, requester):
    before = shop_state(shop_url)
    seed = shop.post("/item", json={"item_name": "Item1", "quantity": 1, "requester": requester})
    assert seed.status_code == 400 and "requester" in seed.get_json()["errors"]
    rest = shop.post("/purchases", json={"item_id": 1, "quantity": 1, "requester": requester})
    assert rest.status_code == 422 and "requester" in rest.get_json()["errors"]
    assert shop_state(shop_url) == before
    order = factory.post("/production-orders", json={**ORDER, "requester": requester})
    assert order.status_code == 422
    assert factory.post("/log", json={**LOG, "requester": requester}).status_code == 400
    assert production_orders(factory_url) == []


def test_a_requester_is_stored_trimmed(shop, shop_url, factory, factory_url):
    assert shop.post("/item", json={"item_name": "Item3", "quantity": 1,
                                    "requester": "  jeonghun \t"}).status_code == 200
    with session_factory(shop_url)() as session:
        assert session.scalars(select(Purchase.requester)).all() == ["jeonghun"]
    trimmed = factory.post("/production-orders", json={**ORDER, "requester": " 가나다 "})
    assert trimmed.status_code == 201
    assert production_orders(factory_url)[0][1] == "가나다"


# --- lengths: what the schema accepts, the column holds (MySQL is strict) ---------------------

def test_names_of_the_columns_full_length_are_stored_and_one_more_is_refused(shop, factory,
                                                                             factory_url):
    longest = "가" * 100  # 100 characters, 300 bytes: utf8mb4 columns count characters
    assert shop.post("/item", json={"item_name": "Item3", "quantity": 1,
                                    "requester": longest}).status_code == 200
    assert shop.post("/item", json={"item_name": "Item3", "quantity": 1,
                                    "requester": longest + "가"}).status_code == 400
    assert factory.post("/production-orders", json={**ORDER, "requester": longest,
                                                    "item_name": longest}).status_code == 201


def test_a_correlation_id_longer_than_its_column_is_refused_not_a_500(factory, factory_url):
    """The schema allowed 100 characters for a String(36) column: MySQL answered 500."""
    too_long = {**ORDER, "correlation_id": "c" * 37}
    answer = factory.post("/production-orders", json=too_long)
    assert answer.status_code == 422 and "correlation_id" in answer.json["errors"]
    longest = factory.post("/production-orders", json={**ORDER, "correlation_id": "c" * 36})
    assert longest.status_code == 201
    assert production_orders(factory_url) == [(41, "jeonghun", "c" * 36)]


# --- a Content-Type header with no body ---------------------------------------------------------

@pytest.mark.parametrize("path", ["/item", "/items", "/items/1", "/replenishment-orders",
                                  "/replenishment-orders?status=requested", "/health",
                                  "/openapi.json", "/admin/dead-letters"])
def test_shop_reads_ignore_a_json_content_type_on_an_empty_body(shop, path):
    answer = shop.get(path, headers={**JSON_NO_BODY, **ADMIN})
    assert answer.status_code == 200, (path, answer.get_data()[:200])


@pytest.mark.parametrize("path", ["/log", "/production-orders", "/health"])
def test_factory_reads_ignore_a_json_content_type_on_an_empty_body(factory, path):
    assert factory.get(path, headers=JSON_NO_BODY).status_code == 200


def test_a_bodyless_write_ignores_a_json_content_type_too(shop):
    """The redrive of a dead letter takes no body: a client's default header is no reason to
    answer 400 (it answers what the route means: no such dead letter)."""
    answer = shop.post("/admin/dead-letters/7/redrive", headers={**JSON_NO_BODY, **ADMIN})
    assert answer.status_code == 404
    everything = shop.post("/admin/dead-letters/redrive", headers={**JSON_NO_BODY, **ADMIN})
    assert everything.status_code == 200 and everything.get_json()["redriven"] == 0


def test_a_json_content_type_with_a_broken_body_is_still_400(shop):
    answer = shop.get("/item", data="{not json", headers=JSON_NO_BODY)
    assert answer.status_code == 400
