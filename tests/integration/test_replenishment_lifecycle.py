"""Issue 11: every replenishment order ends. Through the real topics and queues (moto over HTTP),
both APIs behind real HTTP servers, the real consumers, and the lifecycle check
(consumers.lifecycle) run as its schedule would run it, with a clock moved past each deadline
instead of waiting for it. On SQLite and MariaDB."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import delete, select

from consumers import lifecycle, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import ensure_ses_sender
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.factory import ProductionLog, ProductionOrder
from inventory_core.adapters.models.shop import EmailLog, ShopOutbox
from inventory_core.config import Settings
from inventory_core.service_layer import shop_service
from shop_api import create_app as create_shop_app
from tests.helpers import outbox_types, shop_uow
from tests.integration.conftest import wait_for

OPERATOR = "operator@example.org"
TIMEOUTS = Settings().replenishment_timeouts  # 1800 s to accept, 3 requests, 900 s of grace


@pytest.fixture
def lifecycle_stack(stack, settings, monkeypatch):
    monkeypatch.setenv("OPERATOR_EMAIL", OPERATOR)
    runtime.reset()
    ensure_ses_sender(settings)
    return stack


class RefusingFactory:
    """A factory that answers every production-order request 404, forever (a 4xx no retry
    fixes: the order consumer dead-letters each request at once)."""

    def __init__(self, app):
        self.app, self.refused = app, 0

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/production-orders":
            self.refused += 1
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"message": "no such product line"}']
        return self.app(environ, start_response)


def order_of(stack, order_id: int) -> dict:
    return shop_service.get_replenishment(stack.shop_uow(), order_id)


def operator_mails(stack) -> list[tuple[str, str]]:
    with session_factory(stack.settings.shop_database_url)() as session:
        return [(m.subject, m.status) for m in session.scalars(
            select(EmailLog).where(EmailLog.recipient == OPERATOR).order_by(EmailLog.email_id))]


def emitted(output: str, metric: str) -> list[float]:
    """The values of `metric` in the EMF lines (inventory_core.adapters.metrics) of `output`."""
    return [json.loads(line)[metric] for line in output.splitlines()
            if line.startswith('{"_aws"') and f'"{metric}"' in line]


def test_a_factory_answering_404_forever_ends_the_order_failed(lifecycle_stack, capsys):
    stack = lifecycle_stack
    refusing = RefusingFactory(stack.factory_switch.app)
    stack.factory_switch.app = refusing
    stack.start("order", "notification")
    stack.buy("Item2", 5, "jeonghun")
    [order] = stack.replenishments()
    order_id = order["replenishment_order_id"]
    wait_for(lambda: refusing.refused >= 1, message="the first request refused")

    clock = utcnow()
    outcomes = []
    for request in (2, 3):  # each time the acceptance deadline passes: asked again
        clock += timedelta(seconds=TIMEOUTS.accept_seconds + 1)
        outcomes.append(lifecycle.check(now=clock))
        wait_for(lambda n=request: refusing.refused >= n, message=f"request {request} refused")
        assert order_of(stack, order_id)["request_count"] == request
    assert [o["re_requested"] for o in outcomes] == [1, 1]
    assert lifecycle.check(now=clock + timedelta(seconds=60))["overdue_count"] == 0  # not yet

    clock += timedelta(seconds=TIMEOUTS.accept_seconds + 1)
    assert lifecycle.check(now=clock)["failed"] == 1
    failed = order_of(stack, order_id)
    assert (failed["status"], failed["request_count"]) == ("failed", 3)
    assert "did not accept request 3 of 3" in failed["end_reason"]
    metrics = capsys.readouterr().out  # what CloudWatch would read from the function's log
    assert emitted(metrics, "ReplenishmentsFailed") == [1.0]
    assert emitted(metrics, "ReplenishmentsReRequested") == [1.0, 1.0]
    wait_for(lambda: ("[Replenishment failed] 8 x Item2 (replenishment 1)", "sent")
             in operator_mails(stack), message="the operator e-mailed")
    assert lifecycle.check(now=clock + timedelta(hours=1)) == {  # nothing left to do
        "failed_count": 1, "stalled_count": 0, "overdue_count": 0, "anomalies_count": 0}

    # The item is free: the next shortage opens a new order at once.
    stack.buy("Item2", 5, "jeonghun")
    newest = stack.replenishments()[0]
    assert newest["replenishment_order_id"] != order_id and newest["status"] == "requested"


def test_a_factory_that_accepts_then_loses_the_order_is_reconciled_and_asked_again(
        lifecycle_stack):
    stack = lifecycle_stack
    stack.start("order")  # no production consumer: the order stays in production
    stack.buy("Item2", 5, "jeonghun")
    accepted = wait_for(lambda: [o for o in stack.replenishments() if o["status"] == "accepted"],
                        message="the factory accepted")[0]
    order_id, first_reference = accepted["replenishment_order_id"], accepted["factory_reference"]
    assert accepted["due_at"] is not None

    # Before its due time plus grace nothing is asked of anybody.
    assert lifecycle.check()["overdue_count"] == 0
    with stack.factory_sessions()() as session:  # the factory loses it
        session.execute(delete(ProductionLog).where(ProductionLog.production_order_id.is_not(None)))
        session.execute(delete(ProductionOrder))
        session.commit()
    overdue = utcnow() + timedelta(seconds=TIMEOUTS.grace_seconds + 5)
    assert lifecycle.check(now=overdue)["re_requested"] == 1
    again = wait_for(lambda: (o := order_of(stack, order_id))["status"] == "accepted" and o,
                     message="the factory accepted it again")
    assert again["request_count"] == 2
    # A new production order (SQLite may reuse the lost one's id; MariaDB does not).
    assert stack.production_orders(order_id) == 1
    produced = requests.get(f"{stack.factory.url}/production-orders/{again['factory_reference']}",
                            timeout=10).json()
    assert (produced["replenishment_order_id"], produced["status"]) == (order_id, "in_production")
    assert first_reference is not None


def test_an_order_produced_but_never_received_is_escalated_once_and_kept_open(lifecycle_stack):
    stack = lifecycle_stack
    stack.start("order", "production", "notification")  # no delivery consumer: lost on its way
    stack.buy("Item2", 5, "jeonghun")
    wait_for(lambda: requests.get(f"{stack.factory.url}/production-orders?status=completed",
                                  timeout=10).json(), timeout=60, message="produced")
    # The acceptance is recorded after the factory answered, so production may finish first.
    order_id = wait_for(lambda: [o for o in stack.replenishments() if o["status"] == "accepted"],
                        timeout=60, message="the acceptance recorded")[0]["replenishment_order_id"]
    overdue = utcnow() + timedelta(seconds=TIMEOUTS.grace_seconds + 5)
    assert lifecycle.check(now=overdue)["stalled"] == 1
    later = lifecycle.check(now=overdue + timedelta(seconds=TIMEOUTS.grace_seconds + 5))
    assert later["stalled"] == 1 and later["stalled_count"] == 1
    # Escalated once: exactly one event, whatever the e-mails below have reached by then.
    assert outbox_types(stack.settings.shop_database_url).count("replenishment.stalled") == 1
    assert order_of(stack, order_id)["status"] == "accepted"  # a redrive can still deliver it
    wait_for(lambda: [s for s, _ in operator_mails(stack) if s.startswith("[Replenishment stall")],
             message="the operator e-mailed")
    assert len(operator_mails(stack)) == 1  # once, not every run


def test_cancel_through_the_api_frees_the_item_and_stops_the_factory(lifecycle_stack):
    stack = lifecycle_stack
    stack.start("order", "notification")  # production not consumed yet: nothing produced
    stack.buy("Item2", 5, "jeonghun")
    order_id = wait_for(lambda: [o for o in stack.replenishments() if o["status"] == "accepted"],
                        message="accepted")[0]["replenishment_order_id"]

    path = f"/replenishment-orders/{order_id}/cancel"
    assert requests.post(f"{stack.shop.url}/admin{path}", timeout=10).status_code == 401
    answer = stack.admin("POST", path, json={"reason": "wrong supplier"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["end_reason"]) == ("cancelled",
                                                                      "wrong supplier")
    again = stack.admin("POST", path)
    assert again.status_code == 409 and "cancelled" in again.json()["message"]
    assert stack.admin("POST", "/replenishment-orders/999/cancel").status_code == 404

    factory_order = wait_for(lambda: [o for o in requests.get(
        f"{stack.factory.url}/production-orders", timeout=10).json()
        if o["replenishment_order_id"] == order_id and o["status"] == "cancelled"],
        message="the factory cancelled it")[0]
    assert factory_order["cancelled_at"] is not None
    # The factory's production consumer now completes nothing for it: no stock arrives.
    stack.start("production", "delivery")
    stack.buy("Item2", 5, "jeonghun")  # the item is free: a new order at once
    orders = stack.replenishments()
    assert [o["status"] for o in orders][1:] == ["cancelled"]
    wait_for(lambda: order_of(stack, orders[0]["replenishment_order_id"])["status"]
             == "fulfilled", message="the new order fulfilled")
    assert order_of(stack, order_id)["status"] == "cancelled"
    assert stack.item("Item2")["quantity"] == 2 + orders[0]["quantity"]  # only the new one


def test_cancel_through_the_cli(shop_url):
    app = create_shop_app({"SHOP_DATABASE_URL": shop_url, "PUBLISH_AFTER_COMMIT": False})
    order_id = shop_service.purchase(shop_uow(shop_url), "Item2", 5,
                                     "jeonghun").replenishment["replenishment_order_id"]
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["replenishments", "list"])
    assert listed.exit_code == 0 and f"#{order_id}" in listed.output
    assert "requested" in listed.output
    done = runner.invoke(args=["replenishments", "cancel", str(order_id), "--reason", "test"])
    assert done.exit_code == 0, done.output
    assert f"cancelled replenishment order #{order_id}" in done.output
    twice = runner.invoke(args=["replenishments", "cancel", str(order_id)])
    assert twice.exit_code == 1 and "is cancelled; it cannot cancel" in twice.output
    missing = runner.invoke(args=["replenishments", "cancel", "999"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    with session_factory(shop_url)() as session:
        events = [json.loads(b)["payload"] for b in session.scalars(
            select(ShopOutbox.body).where(ShopOutbox.event_type == "replenishment.cancelled"))]
    assert [(e["replenishment_order_id"], e["reason"]) for e in events] == [(order_id, "test")]
