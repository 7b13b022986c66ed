"""The factory API down for a while (503 from a maintenance switch, then not listening at all):
replenishment requests wait in the order queue, and once the factory is back every order is
fulfilled, none twice."""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import ServerThread, wait_for
from tests.reliability.checks import add_items, all_fulfilled, assert_exactly_once
from tests.reliability.conftest import scaled

OUTAGE_SECONDS = 6.0


def test_orders_wait_out_a_factory_outage_and_are_fulfilled_once(stack):
    items = ["Item1", "Item2", "Item3", *add_items(stack.settings.shop_database_url, scaled(7))]
    stack.factory_switch.down = True
    rng = random.Random(3)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: stack.buy(items[n % len(items)], rng.randint(4, 9), "outage"),
                      range(scaled(30, len(items)))))
    stack.start("order", "production", "delivery")
    wait_for(lambda: stack.factory_switch.refused >= 3, timeout=20, message="refused calls")
    # Half of the outage answers 503, the other half nothing listens at all (connection refused).
    time.sleep(OUTAGE_SECONDS / 2)
    stack.factory.stop()
    time.sleep(OUTAGE_SECONDS / 2)
    assert stack.production_orders() == 0
    assert {o["status"] for o in stack.replenishments()} == {"requested"}

    # Back up only now: a request the stopped server had accepted may still be in a handler
    # thread, and must meet the outage, not a working factory.
    stack.factory_switch.down = False
    stack.factory = ServerThread(stack.factory_switch, stack.factory.port).start()  # back
    wait_for(lambda: all_fulfilled(stack.settings), timeout=45, interval=0.3,
             message="every order fulfilled after the outage")
    stack.stop()
    figures = assert_exactly_once(stack.settings, expected_orders=len(items))
    dead = stack.admin("GET", "/dead-letters").json()
    assert dead == []  # an outage this long sends nothing to a dead-letter queue
    print(f"\nrefused {stack.factory_switch.refused} calls; {figures}; {stack.figures()}")
