"""SNS failing for a while: purchases still answer at once; the scheduled sweeps publish every
event afterwards (shop and factory outboxes); nothing is lost, nothing is applied twice."""
from __future__ import annotations

import time

import pytest

from consumers import outbox_sweep, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import REQUEST_PATH, Messaging
from inventory_core.adapters.models.factory import FactoryOutbox
from inventory_core.service_layer import shop_service
from inventory_core.service_layer.unit_of_work import UnitOfWork
from tests.integration.conftest import wait_for


class FlakyMessaging(Messaging):
    """SNS and SQS publishing fail while `down` (an outage, a throttle, a network partition)."""

    down = True
    failures = 0

    def publish(self, destination, event_type, body, delay_seconds=0):
        if self.down:
            self.failures += 1
            raise ConnectionError("broker unreachable (simulated)")
        return super().publish(destination, event_type, body, delay_seconds)


def test_sweep_publishes_what_a_broker_outage_left_behind(stack, monkeypatch):
    shop_broker = FlakyMessaging(stack.settings, REQUEST_PATH)
    stack.shop_app.extensions["post_commit_messaging"] = shop_broker  # the API's post-commit relay
    factory_broker = FlakyMessaging(stack.settings)  # the production consumer's relay
    monkeypatch.setattr(runtime, "factory_uow", lambda: UnitOfWork(
        session_factory(stack.settings.factory_database_url), FactoryOutbox, factory_broker))
    stack.start("order", "production", "delivery")

    purchases = (("Item1", 2), ("Item2", 5), ("Item3", 7))
    for item, quantity in purchases:
        started = time.monotonic()
        assert stack.buy(item, quantity).startswith("구매 실패!")
        # The outage never blocks a purchase (a blocked one would wait out the ~14 s timeout).
        assert time.monotonic() - started < 10
    assert shop_broker.failures == 3
    assert stack.pending_outbox("shop") == 3
    time.sleep(1.5)
    assert stack.pollers["order"].stats.received == 0  # nothing got out

    # The shop's scheduled sweep (on the working broker) publishes the three requests; the
    # factory produces them, but its own publishing of production.completed is down too.
    swept = outbox_sweep.shop_handler({}, None)
    assert swept["published"] == 3 and swept["failed"] == 0
    # The order consumer records "accepted" after the factory's answer, which may come after the
    # production consumer already tried to publish: wait for both.
    wait_for(lambda: stack.pending_outbox("factory") == 3 and factory_broker.failures >= 3
             and all(o["status"] == "accepted" for o in stack.replenishments()),
             message="three accepted orders, their completions stuck in the factory outbox")

    factory_broker.down = False
    swept = outbox_sweep.factory_handler({}, None)
    assert swept["published"] == 3 and swept["failed"] == 0
    def all_three_fulfilled():
        orders = stack.replenishments()
        return len(orders) == 3 and all(o["status"] == "fulfilled" for o in orders) and orders

    orders = wait_for(all_three_fulfilled, message="all fulfilled")
    for order in orders:  # none lost, none applied twice
        item = shop_service.get_item(stack.shop_uow(), order["item_id"])
        assert shop_service.ledger_balance(stack.shop_uow(), order["item_id"]) == item["quantity"]
        assert stack.production_orders(order["replenishment_order_id"]) == 1
    # Sweeping again finds nothing: every row was published exactly once.
    assert outbox_sweep.shop_handler({}, None)["published"] == 0
    assert outbox_sweep.factory_handler({}, None)["published"] == 0
    assert stack.pending_outbox("shop") == 0 and stack.pending_outbox("factory") == 0
    assert stack.pollers["delivery"].stats.received == 3


def test_sweep_stops_at_its_limit_and_loops(stack):
    broker = FlakyMessaging(stack.settings, REQUEST_PATH)
    stack.shop_app.extensions["post_commit_messaging"] = broker
    for name in ("Item1", "Item2", "Item3"):
        stack.buy(name, 50)
    totals = outbox_sweep.sweep(runtime.shop_uow(), limit=1)  # with the sweep's own broker
    # 1 + 1 + 1 + an empty pass, and the empty pass of rows due for a retry
    assert totals["published"] == 3 and totals["passes"] == 5


def test_sweep_reports_failures_and_keeps_the_rows(stack):
    broker = FlakyMessaging(stack.settings, REQUEST_PATH)
    stack.shop_app.extensions["post_commit_messaging"] = broker
    stack.buy("Item2", 9)
    totals = outbox_sweep.sweep(runtime.shop_uow(), publisher=broker)
    # The post-commit publish failed, then the sweep's: not tried again in the same sweep.
    assert totals["published"] == 0 and totals["failed"] == 1 and totals["passes"] == 2
    assert stack.pending_outbox("shop") == 1


@pytest.mark.parametrize("command", [["outbox", "relay"]])
def test_outbox_relay_command(stack, command):
    broker = FlakyMessaging(stack.settings, REQUEST_PATH)
    stack.shop_app.extensions["post_commit_messaging"] = broker
    stack.buy("Item1", 4)
    result = stack.shop_app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 0, result.output
    assert "published 1" in result.output
    assert stack.pending_outbox("shop") == 0
