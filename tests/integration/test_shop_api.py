"""The shop API over Flask's test client, on SQLite and MySQL."""
import json

import pytest

from shop_api import create_app
from tests.helpers import shop_state

TOKEN = "s3cret-admin"


@pytest.fixture
def client(shop_url):
    app = create_app({"SHOP_DATABASE_URL": shop_url, "ADMIN_TOKEN": TOKEN,
                      "PUBLISH_AFTER_COMMIT": False, "TESTING": True})
    return app.test_client()


def buy(client, name="Item2", quantity=5, requester="jeonghun"):
    return client.post("/item",
                       json={"item_name": name, "quantity": quantity, "requester": requester})


def test_seed_list_is_byte_for_byte_the_seeds(client):
    response = client.get("/item")
    assert response.status_code == 200
    assert json.loads(response.data) == [
        {"item_id": 1, "name": "Item1", "price": 10000, "quantity": 1, "factory_id": 1},
        {"item_id": 2, "name": "Item2", "price": 20000, "quantity": 2, "factory_id": 2},
        {"item_id": 3, "name": "Item3", "price": 30000, "quantity": 3, "factory_id": 1},
    ]
    assert response.data.startswith(
        b'[{"item_id":1,"name":"Item1","price":10000,"quantity":1,"factory_id":1}')


def test_seed_purchase_messages(client):
    short = buy(client)
    assert short.status_code == 200
    assert short.data.decode().strip() == '{"message":"구매 실패! 남은 재고: 2, 생산요청 진행중"}'
    sold = buy(client, quantity=2)
    assert sold.status_code == 200
    assert sold.data.decode().strip() == '{"message":"구매 완료! 남은 재고: 0"}'
    unknown = buy(client, name="NoSuchItem")
    assert unknown.status_code == 400 and unknown.get_json() == {"message": "상품 없음"}


def test_rest_purchase_created_and_conflict(client):
    created = client.post("/purchases", json={"item_id": 3, "quantity": 1, "requester": "a"})
    assert created.status_code == 201
    assert created.get_json()["remaining"] == 2
    assert created.get_json()["replenishment_order"] is None
    conflict = client.post("/purchases",
                           json={"item_name": "Item2", "quantity": 5, "requester": "a"})
    assert conflict.status_code == 409
    body = conflict.get_json()
    assert body["requested"] == 5 and body["available"] == 2
    order_id = body["replenishment_order"]["replenishment_order_id"]
    assert client.get(f"/replenishment-orders/{order_id}").get_json()["status"] == "requested"
    requested = client.get("/replenishment-orders?status=requested").get_json()
    assert [o["replenishment_order_id"] for o in requested] == [order_id]
    unknown = client.post("/purchases", json={"item_id": 99, "quantity": 1, "requester": "a"})
    assert unknown.status_code == 404
    assert client.get("/items/99").status_code == 404
    assert client.get("/replenishment-orders/99").status_code == 404


def test_items_show_their_reorder_rule(client):
    item = client.get("/items/2").get_json()
    assert item == {"item_id": 2, "name": "Item2", "price": 20000, "quantity": 2,
                    "backordered": 0, "available": 2, "factory_id": 2, "factory_name": "Factory2",
                    "reorder_point": 1, "target_level": 10, "reorder_multiple": 1,
                    "max_order_quantity": 100,
                    "reorder_policy": "manual", "learned": None}


def test_admin_adjustment_needs_the_bearer_token(client, shop_url):
    path, body = "/admin/items/1/stock-adjustments", {"delta": 4, "reason": "recount"}
    assert client.post(path, json=body).status_code == 401
    wrong = client.post(path, json=body, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    ok = client.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.get_json() == {"item_id": 1, "quantity": 5}
    below_zero = client.post(path, json={"delta": -6, "reason": "x"},
                             headers={"Authorization": f"Bearer {TOKEN}"})
    assert below_zero.status_code == 422
    assert shop_state(shop_url)["stock"]["Item1"] == 5


def test_admin_routes_are_off_without_a_configured_token(shop_url):
    app = create_app({"SHOP_DATABASE_URL": shop_url, "ADMIN_TOKEN": "",
                      "PUBLISH_AFTER_COMMIT": False})
    response = app.test_client().post("/admin/items/1/stock-adjustments",
                                      json={"delta": 1, "reason": "x"},
                                      headers={"Authorization": "Bearer "})
    assert response.status_code == 403


HOSTILE_BODIES = [
    {}, {"item_name": "Item2"}, {"item_name": "Item2", "quantity": 1},
    {"item_name": "Item2", "quantity": 0, "requester": "a"},
    {"item_name": "Item2", "quantity": -3, "requester": "a"},
    {"item_name": "Item2", "quantity": 10**12, "requester": "a"},
    {"item_name": "Item2", "quantity": 1.5, "requester": "a"},
    {"item_name": "Item2", "quantity": "1", "requester": "a"},
    {"item_name": "Item2", "quantity": True, "requester": "a"},
    {"item_name": "Item2", "quantity": None, "requester": "a"},
    {"item_name": ["Item2"], "quantity": 1, "requester": "a"},
    {"item_name": {"$ne": 1}, "quantity": 1, "requester": "a"},
    {"item_name": "Item2", "quantity": 1, "requester": "a", "price": 0},
    {"item_name": "x" * 10_000, "quantity": 1, "requester": "a"},
    {"item_name": "Item2", "quantity": 1, "requester": ""},
    {"item_name": "Item2", "quantity": 1, "requester": "r" * 101},
]
HOSTILE_RAW = [b"", b"not json", b"[1,2]", b'"Item2"', b"null", b"{" * 5000, b'{"item_name": "It']


@pytest.mark.parametrize("path", ["/item", "/purchases"])
def test_hostile_input_gets_a_4xx_json_error_and_changes_nothing(client, shop_url, path):
    before = shop_state(shop_url)
    answers = [client.post(path, json=body) for body in HOSTILE_BODIES]
    answers += [client.post(path, data=raw, content_type="application/json") for raw in HOSTILE_RAW]
    answers.append(client.post(path, data="item_name=Item2",
                               content_type="application/x-www-form-urlencoded"))
    for response in answers:
        assert 400 <= response.status_code < 500, response.data
        assert isinstance(response.get_json(), dict) and response.get_json()["message"]
        assert b"Traceback" not in response.data
    assert shop_state(shop_url) == before


@pytest.mark.parametrize("name", ["Item2'; DROP TABLE items; --", "' OR '1'='1", "상품 🚀",
                                  "Item2\x00", "%", "_"])
def test_sql_looking_or_odd_names_are_just_unknown_items(client, shop_url, name):
    before = shop_state(shop_url)
    assert buy(client, name=name, quantity=1).status_code == 400
    expected = 422 if "\x00" in name else 404  # a NUL is refused as text before any lookup
    unknown = client.post("/purchases", json={"item_name": name, "quantity": 1, "requester": "a"})
    assert unknown.status_code == expected
    assert shop_state(shop_url) == before


def test_unknown_routes_and_methods_answer_json(client):
    for response in (client.get("/nope"), client.delete("/item"), client.put("/items/1", json={})):
        assert response.status_code in (404, 405) and response.get_json()["message"]


def test_oversized_body_is_refused(client, shop_url):
    before = shop_state(shop_url)
    response = client.post("/purchases", data=b"{" + b" " * 100_000 + b"}",
                           content_type="application/json")
    assert response.status_code == 413 and response.get_json()["code"] == 413
    assert shop_state(shop_url) == before


def test_openapi_document_describes_the_rest_api(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/items", "/items/{item_id}", "/purchases", "/replenishment-orders",
                 "/admin/items/{item_id}/stock-adjustments"):
        assert path in spec["paths"], path
    assert "409" in spec["paths"]["/purchases"]["post"]["responses"]


@pytest.mark.parametrize("field", ["item_name", "requester"])
def test_a_lone_surrogate_in_valid_json_is_a_400_not_a_500(client, shop_url, field):
    body = json.dumps({"item_name": "Item1", "quantity": 1, "requester": "a", field: "X"})
    body = body.replace('"X"', '"\\ud800"')
    before = shop_state(shop_url)
    for path in ("/item", "/purchases"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["message"]
    assert shop_state(shop_url) == before
