"""The factory service and its API on a real database (SQLite and MySQL/MariaDB)."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from factory_api import create_app
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.factory import FactoryOutbox, ProductionLog, ProductionOrder
from inventory_core.config import Settings
from inventory_core.service_layer import factory_service
from inventory_core.service_layer.unit_of_work import UnitOfWork
from tests.signing import WRITER, SignedClient

ORDER = dict(replenishment_order_id=41, factory_id=2, item_id=2, item_name="Item2", quantity=5,
             requester="jeonghun")
SEED_LOG = {"log_id": 1, "factory_id": 1, "factory_name": "Factory1", "item_id": 1,
            "item_name": "Item1", "quantity": 5, "requester": "jeonghun",
            "datetime": "2023-05-18T09:46:48.000Z"}
PUBLIC_SEED_LOG = {**SEED_LOG, "requester": "j***"}  # what an anonymous caller sees
ADMIN_TOKEN = "factory-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def uow_on(url: str) -> UnitOfWork:
    return UnitOfWork(session_factory(url), FactoryOutbox)  # no publisher: rows stay in the outbox


def counts(url: str) -> dict:
    with session_factory(url)() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (ProductionOrder, ProductionLog, FactoryOutbox)}


def outbox_rows(url: str, event_type: str | None = None) -> list[FactoryOutbox]:
    with session_factory(url)() as session:
        query = select(FactoryOutbox).order_by(FactoryOutbox.outbox_id)
        if event_type:
            query = query.where(FactoryOutbox.event_type == event_type)
        return list(session.scalars(query))


@pytest.fixture
def client(factory_url):
    app = create_app({"SETTINGS": Settings(factory_database_url=factory_url, **WRITER,
                                           admin_token=ADMIN_TOKEN),
                      "PUBLISH_AFTER_COMMIT": False, "TESTING": True})
    return SignedClient(app.test_client())


# --- the service ------------------------------------------------------------------------------

def test_accept_is_idempotent_on_the_replenishment_order(factory_url):
    before = counts(factory_url)
    first, created = factory_service.accept_production_order(uow_on(factory_url), **ORDER,
                                                             correlation_id="corr-1")
    again, created_again = factory_service.accept_production_order(uow_on(factory_url), **ORDER)
    assert (created, created_again) == (True, False)
    assert again == first
    assert first["status"] == "in_production" and first["completed_at"] is None
    after = counts(factory_url)
    assert {k: after[k] - before[k] for k in after} == {
        "production_orders": 1, "logs": 1, "outbox": 1}
    [due] = outbox_rows(factory_url)
    assert (due.event_type, due.destination, due.delay_seconds) == (
        "production.due", "queue:production", 20)  # Factory2's lead time, from the seed
    body = json.loads(due.body)
    assert body["payload"] == {"production_order_id": first["production_order_id"]}
    assert body["correlation_id"] == "corr-1"
    with session_factory(factory_url)() as session:
        log = session.scalar(select(ProductionLog).where(
            ProductionLog.production_order_id == first["production_order_id"]))
        assert (log.factory_name, log.item_name, log.quantity, log.requester) == (
            "Factory2", "Item2", 5, "jeonghun")


def test_lead_time_override_and_the_900_second_cap(factory_url):
    quick, _ = factory_service.accept_production_order(uow_on(factory_url), **ORDER,
                                                       lead_time_override=0)
    slow, _ = factory_service.accept_production_order(
        uow_on(factory_url), **{**ORDER, "replenishment_order_id": 42}, lead_time_override=3600)
    assert [r.delay_seconds for r in outbox_rows(factory_url)] == [0, 900]
    order = factory_service.get_production_order(uow_on(factory_url), slow["production_order_id"])
    from datetime import datetime
    due, created = (datetime.fromisoformat(order[k]) for k in ("due_at", "created_at"))
    assert timedelta(seconds=3599) <= due - created <= timedelta(seconds=3601)
    assert quick["due_at"] <= slow["due_at"]


def test_unknown_factory_writes_nothing(factory_url):
    before = counts(factory_url)
    with pytest.raises(factory_service.UnknownFactory):
        factory_service.accept_production_order(uow_on(factory_url), **{**ORDER, "factory_id": 99})
    assert counts(factory_url) == before


def test_completing_twice_publishes_once(factory_url):
    order, _ = factory_service.accept_production_order(uow_on(factory_url), **ORDER,
                                                       correlation_id="corr-2",
                                                       lead_time_override=0)
    order_id = order["production_order_id"]
    assert factory_service.complete_production(uow_on(factory_url), order_id) == "completed"
    assert factory_service.complete_production(uow_on(factory_url), order_id) == "already_completed"
    [completed] = outbox_rows(factory_url, "production.completed")
    assert completed.destination == "production_completed" and completed.delay_seconds == 0
    body = json.loads(completed.body)
    assert body["correlation_id"] == "corr-2"
    payload = body["payload"]
    assert {k: payload[k] for k in ("production_order_id", "replenishment_order_id", "factory_id",
                                    "item_id", "item_name", "quantity")} == {
        "production_order_id": order_id, **{k: ORDER[k] for k in (
            "replenishment_order_id", "factory_id", "item_id", "item_name", "quantity")}}
    stored = factory_service.get_production_order(uow_on(factory_url), order_id)
    assert stored["status"] == "completed" and stored["completed_at"]
    from inventory_core.domain.events import parse_event
    assert parse_event(completed.body).payload["completed_at"] == payload["completed_at"]


def test_unknown_production_order(factory_url):
    assert factory_service.complete_production(uow_on(factory_url), 12345) == "unknown"
    assert outbox_rows(factory_url) == []


def test_an_early_due_message_is_delayed_again_for_the_remaining_time(factory_url):
    from datetime import datetime
    order, _ = factory_service.accept_production_order(uow_on(factory_url), **ORDER,
                                                       lead_time_override=2000)
    order_id = order["production_order_id"]
    # Read due_at back: MySQL keeps whole seconds.
    due = datetime.fromisoformat(
        factory_service.get_production_order(uow_on(factory_url), order_id)["due_at"])
    assert factory_service.complete_production(
        uow_on(factory_url), order_id, now=due - timedelta(seconds=1100)) == "rescheduled"
    assert factory_service.complete_production(
        uow_on(factory_url), order_id, now=due - timedelta(seconds=100)) == "rescheduled"
    assert [r.delay_seconds for r in outbox_rows(factory_url, "production.due")] == [900, 900, 100]
    assert all(json.loads(r.body)["payload"] == {"production_order_id": order_id}
               for r in outbox_rows(factory_url, "production.due"))
    assert factory_service.get_production_order(uow_on(factory_url), order_id)["status"] == (
        "in_production")
    assert outbox_rows(factory_url, "production.completed") == []
    completed = factory_service.complete_production(uow_on(factory_url), order_id, now=due)
    assert completed == "completed"
    assert len(outbox_rows(factory_url, "production.completed")) == 1


@pytest.mark.mysql
@pytest.mark.parametrize("backend", ["mysql"])
def test_concurrent_duplicate_accepts_create_one_order(mysql_backend, factory_url):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def accept():
        try:
            barrier.wait()
            results.append(factory_service.accept_production_order(uow_on(factory_url), **ORDER))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=accept) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert len({order["production_order_id"] for order, _ in results}) == 1
    with session_factory(factory_url)() as session:
        assert session.scalar(select(func.count()).select_from(ProductionOrder)) == 1
        assert session.scalar(select(func.count()).select_from(ProductionLog)
                              .where(ProductionLog.production_order_id.is_not(None))) == 1
    assert len(outbox_rows(factory_url)) == 1


@pytest.mark.mysql
@pytest.mark.parametrize("backend", ["mysql"])
def test_concurrent_due_deliveries_complete_once(mysql_backend, factory_url):
    order, _ = factory_service.accept_production_order(uow_on(factory_url), **ORDER,
                                                       lead_time_override=0)
    outcomes, errors = [], []
    barrier = threading.Barrier(8)

    def complete():
        try:
            barrier.wait()
            outcomes.append(factory_service.complete_production(uow_on(factory_url),
                                                                order["production_order_id"]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=complete) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(outcomes) == ["already_completed"] * 7 + ["completed"]
    assert len(outbox_rows(factory_url, "production.completed")) == 1


# --- the API ----------------------------------------------------------------------------------

def test_get_log_has_the_seed_shape_and_sample_row(client):
    response = client.get("/log", headers=ADMIN)
    assert response.status_code == 200
    assert response.json == [SEED_LOG]
    # Key order, as the seed printed it.
    assert list(json.loads(response.get_data(as_text=True))[0]) == list(SEED_LOG)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic ZmFjdG9yeTpmYWN0b3J5"}],
                         ids=["anonymous", "wrong-token", "other-scheme"])
def test_get_log_masks_the_requester_for_anyone_but_an_operator(client, headers):
    """Same shape and key order for everyone; the buyer's name only for the admin token."""
    response = client.get("/log", headers=headers)
    assert response.status_code == 200 and response.json == [PUBLIC_SEED_LOG]
    assert list(json.loads(response.get_data(as_text=True))[0]) == list(SEED_LOG)


@pytest.mark.parametrize("headers,requester", [({}, "j***"),
                                               ({"Authorization": "Bearer no"}, "j***"),
                                               (ADMIN, "jeonghun")],
                         ids=["anonymous", "wrong-token", "operator"])
def test_production_orders_show_the_requester_to_operators_only(client, headers, requester):
    order = client.post("/production-orders", json=ORDER).json
    assert order["requester"] == "jeonghun"  # the writer gets back what it sent
    listed = client.get("/production-orders", headers=headers).json
    one = client.get(f"/production-orders/{order['production_order_id']}", headers=headers).json
    assert [o["requester"] for o in listed] == [requester] and one["requester"] == requester


def test_post_log_records_a_seed_log(client):
    body = {"factory_id": 2, "factory_name": "Factory2", "item_id": 2, "item_name": "Item2",
            "quantity": 7, "requester": "seed-order-lambda"}
    response = client.post("/log", json=body)
    assert response.status_code == 201
    created = response.json
    assert list(created) == list(SEED_LOG)
    assert {k: created[k] for k in body} == body
    assert created["datetime"].endswith("Z") and len(created["datetime"]) == 24
    assert client.get("/log", headers=ADMIN).json == [SEED_LOG, created]


@pytest.mark.parametrize("body", [
    None, [1], {"factory_id": 1},
    {"factory_id": 1, "factory_name": "F", "item_id": 1, "item_name": "I", "quantity": 0,
     "requester": "r"},
    {"factory_id": "1", "factory_name": "F", "item_id": 1, "item_name": "I", "quantity": 1,
     "requester": "r"},
    {"factory_id": 1, "factory_name": "", "item_id": 1, "item_name": "I", "quantity": 1,
     "requester": "r"},
])
def test_post_log_rejects_bad_input_with_400(client, factory_url, body):
    before = counts(factory_url)
    response = (client.post("/log", data="not json", content_type="application/json")
                if body is None else client.post("/log", json=body))
    assert response.status_code == 400
    assert "message" in response.json
    assert counts(factory_url) == before


def test_post_production_order_201_then_200(client, factory_url):
    first = client.post("/production-orders", json={**ORDER, "correlation_id": "c-9"})
    assert first.status_code == 201
    order = first.json
    assert list(order) == ["production_order_id", "replenishment_order_id", "factory_id",
                           "item_id", "item_name", "quantity", "requester", "status", "due_at",
                           "created_at", "completed_at", "cancelled_at"]
    assert {k: order[k] for k in ORDER} == ORDER
    assert order["status"] == "in_production" and order["completed_at"] is None
    again = client.post("/production-orders", json=ORDER)
    assert again.status_code == 200 and again.json == order
    assert counts(factory_url)["production_orders"] == 1
    assert client.get(f"/production-orders/{order['production_order_id']}",
                      headers=ADMIN).json == order
    assert client.get("/production-orders", headers=ADMIN).json == [order]
    assert client.get("/production-orders?status=completed", headers=ADMIN).json == []
    assert client.get("/production-orders?status=in_production&limit=1",
                      headers=ADMIN).json == [order]


def test_production_seconds_overrides_the_lead_time(factory_url):
    from datetime import datetime
    app = create_app({"SETTINGS": Settings(factory_database_url=factory_url, production_seconds=3,
                                           **WRITER), "PUBLISH_AFTER_COMMIT": False})
    order = SignedClient(app.test_client()).post("/production-orders", json=ORDER).json
    stored = app.test_client().get(f"/production-orders/{order['production_order_id']}").json
    lead = datetime.fromisoformat(stored["due_at"]) - datetime.fromisoformat(stored["created_at"])
    assert timedelta(seconds=2) <= lead <= timedelta(seconds=4)
    assert [r.delay_seconds for r in outbox_rows(factory_url)] == [3]


def test_unknown_factory_is_404_and_writes_nothing(client, factory_url):
    before = counts(factory_url)
    response = client.post("/production-orders", json={**ORDER, "factory_id": 99})
    assert response.status_code == 404
    assert response.json["code"] == 404 and "99" in response.json["message"]
    assert counts(factory_url) == before


@pytest.mark.parametrize("change", [
    {"quantity": 0}, {"quantity": 1_000_001}, {"quantity": "5"}, {"quantity": 2.5},
    {"replenishment_order_id": 0}, {"replenishment_order_id": None}, {"item_name": ""},
    {"requester": "x" * 101}, {"correlation_id": "x" * 101}, {"unexpected": 1},
    {"factory_id": True},
])
def test_invalid_production_orders_are_422_and_write_nothing(client, factory_url, change):
    before = counts(factory_url)
    response = client.post("/production-orders", json={**ORDER, **change})
    assert response.status_code == 422, response.json
    assert response.json["errors"]
    assert counts(factory_url) == before


@pytest.mark.parametrize("missing", sorted(ORDER))
def test_every_field_but_correlation_id_is_required(client, factory_url, missing):
    body = {k: v for k, v in ORDER.items() if k != missing}
    response = client.post("/production-orders", json=body)
    assert response.status_code == 422 and missing in response.json["errors"]
    assert counts(factory_url)["production_orders"] == 0


def test_reads_health_and_openapi(client):
    assert client.get("/production-orders/999").status_code == 404
    assert client.get("/production-orders?status=bogus").status_code == 422
    assert client.get("/health").json == {"status": "ok"}
    paths = client.get("/openapi.json").json["paths"]
    assert {"/production-orders", "/production-orders/{production_order_id}"} <= set(paths)
    assert "/log" not in paths  # the seed's routes stay out of the documented API
    assert client.get("/docs").status_code == 200


def test_cli_upgrades_and_seeds(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli-factory.db'}"
    app = create_app({"SETTINGS": Settings(factory_database_url=url)})
    runner = app.test_cli_runner()
    assert "up to date" in runner.invoke(args=["db", "upgrade"]).output
    assert runner.invoke(args=["db", "seed"]).output.strip() == "seeded"
    assert "nothing inserted" in runner.invoke(args=["db", "seed"]).output
    assert app.test_client().get("/log").json == [PUBLIC_SEED_LOG]


def test_accepting_publishes_the_due_message_right_after_commit(settings):
    from inventory_core.adapters.messaging import Messaging, ensure_topology
    urls = ensure_topology(settings)
    app = create_app({"SETTINGS": settings})  # PUBLISH_AFTER_COMMIT defaults to True
    order = SignedClient(app.test_client()).post("/production-orders", json=ORDER).json
    sqs = Messaging(settings).client("sqs")
    messages = sqs.receive_message(QueueUrl=urls["production"], MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1, MessageAttributeNames=["All"])["Messages"]
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["type"] == "production.due"
    assert body["payload"] == {"production_order_id": order["production_order_id"]}
    assert messages[0]["MessageAttributes"]["type"]["StringValue"] == "production.due"
    assert all(row.published_at is not None for row in outbox_rows(settings.factory_database_url))


def test_cli_outbox_relay_publishes_what_was_left_behind(settings):
    from inventory_core.adapters.messaging import Messaging, ensure_topology
    urls = ensure_topology(settings)
    app = create_app({"SETTINGS": settings, "PUBLISH_AFTER_COMMIT": False})
    order = SignedClient(app.test_client()).post("/production-orders", json=ORDER).json
    assert [r.published_at for r in outbox_rows(settings.factory_database_url)] == [None]
    result = app.test_cli_runner().invoke(args=["outbox", "relay"])
    assert result.exit_code == 0 and "published 1, failed 0" in result.output
    [message] = Messaging(settings).client("sqs").receive_message(
        QueueUrl=urls["production"], WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"])["payload"]["production_order_id"] == (
        order["production_order_id"])
