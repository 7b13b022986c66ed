"""Issue 10: the factory answers a replenishment id with its order only when the terms are the
same (else 409, nothing changed), and the order consumer records an acceptance only when the
factory answered the order it asked for. Issue 11: the factory's cancel. SQLite and MariaDB."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from consumers import order as order_consumer
from factory_api import create_app
from inventory_core.adapters.models.common import utcnow
from inventory_core.config import Settings
from inventory_core.domain.events import new_event
from inventory_core.service_layer import factory_service, shop_service
from tests.integration.conftest import ServerThread
from tests.integration.test_factory_api import counts, uow_on
from tests.signing import WRITER, SignedClient

ORDER = dict(replenishment_order_id=41, factory_id=2, item_id=2, item_name="Item2", quantity=8,
             requester="jeonghun")


@pytest.fixture
def client(factory_url):
    app = create_app({"SETTINGS": Settings(factory_database_url=factory_url, **WRITER),
                      "PUBLISH_AFTER_COMMIT": False, "TESTING": True})
    return SignedClient(app.test_client())


@pytest.mark.parametrize("change", [{"quantity": 8000}, {"item_id": 1}, {"factory_id": 1}],
                         ids=["quantity", "item", "factory"])
def test_a_replenishment_id_repeated_with_other_terms_is_refused(client, factory_url, change):
    first = client.post("/production-orders", json=ORDER)
    assert first.status_code == 201
    before = counts(factory_url)
    taken = client.post("/production-orders", json={**ORDER, **change})
    assert taken.status_code == 409, taken.get_json()
    assert "changes nothing" in taken.get_json()["message"]
    assert counts(factory_url) == before
    retry = client.post("/production-orders", json=ORDER)  # the real retry still gets its order
    assert retry.status_code == 200
    assert retry.get_json()["production_order_id"] == first.get_json()["production_order_id"]


def test_cancel_stops_what_is_not_produced_and_refuses_what_is(client, factory_url):
    created = client.post("/production-orders", json=ORDER).get_json()
    cancelled = client.post("/production-orders/cancel", json=ORDER)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.post("/production-orders/cancel", json=ORDER).status_code == 200  # a retry
    # Its due message arrives: nothing is produced, nothing is announced.
    outcome = factory_service.complete_production(uow_on(factory_url),
                                                  created["production_order_id"])
    assert outcome == "cancelled"
    assert counts(factory_url)["outbox"] == 1  # only the production.due of the request

    other = {**ORDER, "replenishment_order_id": 42}
    made = client.post("/production-orders", json=other).get_json()
    due = utcnow() + timedelta(hours=1)  # past Factory2's lead time
    assert factory_service.complete_production(uow_on(factory_url), made["production_order_id"],
                                               now=due) == "completed"
    late = client.post("/production-orders/cancel", json=other)
    assert late.status_code == 409 and "nothing left to cancel" in late.get_json()["message"]
    unsigned = client.client.post("/production-orders/cancel", json=ORDER)
    assert unsigned.status_code == 401


def test_a_cancel_that_overtakes_its_request_leaves_nothing_to_produce(client, factory_url):
    early = client.post("/production-orders/cancel", json=ORDER)
    assert early.status_code == 200 and early.get_json()["status"] == "cancelled"
    request = client.post("/production-orders", json=ORDER)
    assert request.status_code == 200 and request.get_json()["status"] == "cancelled"
    assert counts(factory_url)["outbox"] == 0  # no production.due: nothing will be produced


class WrongOrderFactory:
    """A factory that answers every request with some other order (a bug, or an intruder who took
    the replenishment id first with other terms)."""

    def __call__(self, environ, start_response):
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        answer = {**body, "production_order_id": 7, "quantity": body["quantity"] * 1000,
                  "status": "in_production", "due_at": "2026-12-03T00:00:00+00:00"}
        start_response("201 Created", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def test_the_order_consumer_records_only_the_order_it_asked_for(shop_url, monkeypatch):
    from consumers import runtime
    from tests.helpers import shop_uow

    factory = ServerThread(WrongOrderFactory()).start()
    try:
        monkeypatch.setenv("SHOP_DATABASE_URL", shop_url)
        monkeypatch.setenv("FACTORY_API_URL", factory.url)
        runtime.reset()
        order = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun").replenishment
        event = new_event("replenishment.requested", {
            "replenishment_order_id": order["replenishment_order_id"], "item_id": 2,
            "item_name": "Item2", "factory_id": 2, "factory_name": "Factory2", "quantity": 8,
            "requester": "jeonghun", "trigger": "shortage"})
        with pytest.raises(order_consumer.WrongAnswer, match="differs in quantity"):
            order_consumer.handle_record({"body": event.to_json()})
        after = shop_service.get_replenishment(shop_uow(shop_url), order["replenishment_order_id"])
        assert (after["status"], after["factory_reference"]) == ("requested", None)
    finally:
        factory.stop()
        runtime.reset()
