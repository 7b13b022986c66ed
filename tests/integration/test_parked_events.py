"""Parked outbox events, end to end against moto's server: a topic is deleted, the events for it
are parked after their attempts, the alarm's metric counts them, the dashboard shows them with
their last error; once the topic is back an operator re-publishes them (admin API, dashboard
button, `flask outbox republish`) and they reach their queue."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from consumers import outbox_sweep
from inventory_core.adapters import outbox
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import SWEEP, Messaging, ensure_topology
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.adapters.outbox import RetryPolicy
from inventory_core.domain.events import new_event
from inventory_core.service_layer.unit_of_work import UnitOfWork
from inventory_core.topology import TOPOLOGY
from shop_api import create_app
from tests.helpers import sign_in

DEPLETED = {"item_id": 1, "item_name": "Item1", "quantity": 0}


@pytest.fixture
def broker(settings) -> Messaging:
    ensure_topology(settings)
    return Messaging(settings, SWEEP)


@pytest.fixture
def app(settings, broker):
    return create_app({"SETTINGS": settings})


def _park(settings, broker: Messaging, count: int) -> list[int]:
    """`count` stock.depleted events whose topic was deleted, parked by a sweep whose policy
    allows one attempt; the topic is created again afterwards (the cause fixed). Their ids."""
    broker.client("sns").delete_topic(TopicArn=broker.topic_arn("stock_events"))
    with session_factory(settings.shop_database_url).begin() as session:
        for _ in range(count):
            outbox.add(session, ShopOutbox, new_event("stock.depleted", DEPLETED),
                       TOPOLOGY.event_types["stock.depleted"])
    uow = UnitOfWork(session_factory(settings.shop_database_url), ShopOutbox,
                     policy=RetryPolicy(max_attempts=1))
    swept = outbox_sweep.sweep(uow, publisher=broker)
    assert swept["parked"] == count
    ensure_topology(settings)
    with session_factory(settings.shop_database_url)() as session:
        return list(session.scalars(select(ShopOutbox.outbox_id).order_by(ShopOutbox.outbox_id)))


def _notifications(settings) -> list[str]:
    """Event types that reached the notification queue (subscribed to stock events)."""
    messaging = Messaging(settings)
    url = messaging.queue_url_of("notification")
    found = []
    while batch := messaging.receive(url, wait_seconds=1):
        found += [json.loads(m["Body"])["type"] for m in batch]
        messaging.delete_batch(url, {m["MessageId"]: m["ReceiptHandle"] for m in batch})
    return found


def _admin(settings) -> dict:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def test_parked_events_are_listed_counted_and_republished_through_the_admin_api(settings, broker,
                                                                                app, capsys):
    first, second = _park(settings, broker, 2)
    client = app.test_client()

    assert client.get("/admin/outbox/parked").status_code in (401, 403)
    parked = client.get("/admin/outbox/parked", headers=_admin(settings)).get_json()
    assert [p["outbox_id"] for p in parked] == [first, second]
    assert all(p["parked_at"] and "NotFound" in p["last_error"] and p["attempts"] == 1
               for p in parked)
    assert "body" not in parked[0]  # operators see what and why, not the payload

    # Every minute the sweep writes the count the alarm watches (EMF, on stdout).
    capsys.readouterr()
    outbox_sweep.report(UnitOfWork(session_factory(settings.shop_database_url), ShopOutbox),
                        "shop")
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{")]
    parked_metric = next(r for r in records if "OutboxParkedRows" in r)
    assert parked_metric["OutboxParkedRows"] == 2 and parked_metric["Service"] == "shop"

    one = client.post(f"/admin/outbox/{first}/republish", headers=_admin(settings))
    assert one.status_code == 200, one.get_data(as_text=True)
    assert one.get_json()["published_at"] is not None and one.get_json()["parked_at"] is None
    again = client.post(f"/admin/outbox/{first}/republish", headers=_admin(settings))
    assert again.status_code == 409 and "was published" in again.get_json()["message"]
    missing = client.post("/admin/outbox/999999/republish", headers=_admin(settings))
    assert missing.status_code == 404

    everything = client.post("/admin/outbox/republish", headers=_admin(settings)).get_json()
    assert (everything["republished"], everything["published"]) == (1, 1)
    assert everything["outbox"][0]["outbox_id"] == second
    assert client.get("/admin/outbox/parked", headers=_admin(settings)).get_json() == []
    assert _notifications(settings) == ["stock.depleted", "stock.depleted"]


def test_a_republished_event_that_fails_again_goes_back_to_the_sweep(settings, broker, app):
    (parked,) = _park(settings, broker, 1)
    broker.client("sns").delete_topic(TopicArn=broker.topic_arn("stock_events"))  # not fixed

    answer = app.test_client().post(f"/admin/outbox/{parked}/republish", headers=_admin(settings))

    assert answer.status_code == 200
    row = answer.get_json()
    assert row["published_at"] is None and row["parked_at"] is None  # the sweep retries it
    assert row["attempts"] == 1 and "NotFound" in row["last_error"]


def test_the_dashboard_shows_parked_events_and_republishes_them(settings, broker, app):
    (parked,) = _park(settings, broker, 1)
    operator = app.test_client()
    csrf = sign_in(operator, settings.admin_token)

    state = operator.get("/dashboard/state").get_json()
    assert state["summary"]["outbox_parked"] == 1 and state["summary"]["outbox_pending"] == 0
    assert [p["outbox_id"] for p in state["parked_events"]] == [parked]
    page = operator.get("/dashboard").get_data(as_text=True)
    assert f'data-action="/admin/outbox/{parked}/republish"' in page
    assert 'data-action="/admin/outbox/republish"' in page

    refused = operator.post(f"/admin/outbox/{parked}/republish")  # a button needs the CSRF token
    assert refused.status_code == 403
    pressed = operator.post(f"/admin/outbox/{parked}/republish", headers={"X-CSRF-Token": csrf})
    assert pressed.status_code == 200 and pressed.get_json()["published_at"] is not None
    assert operator.get("/dashboard/state").get_json()["summary"]["outbox_parked"] == 0


def test_the_cli_lists_and_republishes_parked_events(settings, broker, app):
    first, second = _park(settings, broker, 2)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["outbox", "parked", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["outbox_id"] for line in listed.output.splitlines()] == [first,
                                                                                    second]
    assert runner.invoke(args=["outbox", "republish"]).exit_code == 2  # an id or --all
    one = runner.invoke(args=["outbox", "republish", str(first)])
    assert one.exit_code == 0 and f"#{first} published" in one.output
    twice = runner.invoke(args=["outbox", "republish", str(first)])
    assert twice.exit_code == 1 and "was published" in twice.output
    rest = runner.invoke(args=["outbox", "republish", "--all"])
    assert rest.exit_code == 0 and "re-published 1: 1 published" in rest.output
    assert runner.invoke(args=["outbox", "parked"]).output.strip() == "no parked events"
