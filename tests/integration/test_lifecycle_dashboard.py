"""Issue 11 on the dashboard: each open order's deadline and a Cancel button (posted with the
session's CSRF token, as the page's script posts it), and the counts the alarms watch: failed and
stalled orders, delivery anomalies. SQLite and MariaDB."""
from __future__ import annotations

import uuid

import pytest

from inventory_core.config import Settings
from inventory_core.service_layer import shop_service
from shop_api import create_app
from tests.helpers import shop_uow, sign_in

CREDENTIAL = "operator-credential-lifecycle-0123"


@pytest.fixture
def operator(shop_url):
    app = create_app({"SETTINGS": Settings(shop_database_url=shop_url, admin_token=CREDENTIAL),
                      "PUBLISH_AFTER_COMMIT": False})
    client = app.test_client()
    return client, sign_in(client, CREDENTIAL)


def test_the_dashboard_cancels_an_open_order_and_counts_what_went_wrong(operator, shop_url):
    client, csrf = operator
    order_id = shop_service.purchase(shop_uow(shop_url), "Item2", 5,
                                     "jeonghun").replenishment["replenishment_order_id"]
    page = client.get("/dashboard").get_data(as_text=True)
    cancel = f"/admin/replenishment-orders/{order_id}/cancel"
    assert f'data-action="{cancel}"' in page
    state = client.get("/dashboard/state").get_json()
    [row] = state["replenishments"]
    assert row["deadline"] is not None and row["request_count"] == 1
    assert [i["max_order_quantity"] for i in state["items"]] == [100, 100, 100]

    assert client.post(cancel).status_code == 403  # the session alone is not enough: CSRF
    answer = client.post(cancel, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"

    # A forged completion for it: no stock, one anomaly, counted and listed.
    shop_service.receive_stock(shop_uow(shop_url), str(uuid.uuid4()), 2, 8000, order_id,
                               production_order_id=1, factory_id=2)
    state = client.get("/dashboard/state").get_json()
    assert state["replenishments"] == []
    assert state["summary"]["delivery_anomalies"] == 1
    assert (state["summary"]["orders_failed"], state["summary"]["orders_stalled"]) == (0, 0)
    [anomaly] = state["anomalies"]
    assert anomaly["kind"] == "order_ended" and "is cancelled" in anomaly["detail"]
    assert "order_ended" in client.get("/dashboard").get_data(as_text=True)
