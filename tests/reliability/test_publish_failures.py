"""SNS (and SQS sends) failing 30 % of the time during a burst of shortages across items: the
outbox keeps what failed, sweeps publish it, and every replenishment is fulfilled end to end
through moto exactly once."""
from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from consumers.outbox_sweep import sweep
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import SWEEP, Messaging
from inventory_core.adapters.models.factory import FactoryOutbox
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.adapters.outbox import RetryPolicy
from inventory_core.service_layer.unit_of_work import UnitOfWork
from tests.integration.conftest import wait_for
from tests.reliability.checks import add_items, all_fulfilled, assert_exactly_once, pending
from tests.reliability.conftest import scaled

FAILURE_RATE = 0.3


class BrokerDown(ConnectionError):
    pass


class FlakyBroker:
    """Makes Messaging.publish (every publisher in this process) fail at random, seeded."""

    def __init__(self, seed: int, rate: float):
        self.rng = random.Random(seed)
        self.rate = rate
        self.lock = threading.Lock()
        self.attempts = self.failures = 0
        self.real_publish = Messaging.publish

    def install(self, monkeypatch) -> FlakyBroker:
        broker = self

        def publish(messaging, destination, event_type, body, delay_seconds=0):
            with broker.lock:
                broker.attempts += 1
                fail = broker.rng.random() < broker.rate
                broker.failures += fail
            if fail:
                raise BrokerDown(f"injected SNS/SQS failure publishing {event_type}")
            return broker.real_publish(messaging, destination, event_type, body, delay_seconds)

        monkeypatch.setattr(Messaging, "publish", publish)
        return self


def test_a_failing_broker_loses_nothing_and_duplicates_nothing(stack, monkeypatch):
    broker = FlakyBroker(seed=7, rate=FAILURE_RATE).install(monkeypatch)
    items = ["Item1", "Item2", "Item3", *add_items(stack.settings.shop_database_url, scaled(12))]
    rng = random.Random(11)
    burst = [(rng.choice(items), rng.randint(1, 6)) for _ in range(scaled(90, 10))]

    def buy(order):
        return stack.buy(order[0], order[1], "burst")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(buy, burst))
    assert sum("생산요청" in a for a in answers) > len(items)  # shortages: a burst of them

    stack.start("order", "production", "delivery")
    # A row may fail several sweeps in a row: a short backoff keeps the test short.
    policy = RetryPolicy(max_attempts=50, backoff_seconds=1)
    shop_uow = UnitOfWork(session_factory(stack.settings.shop_database_url), ShopOutbox,
                          policy=policy)
    factory_uow = UnitOfWork(session_factory(stack.settings.factory_database_url), FactoryOutbox,
                             policy=policy)
    publisher = Messaging(stack.settings, SWEEP)

    def swept_and_done():
        sweep(shop_uow, publisher=publisher, max_seconds=10)
        sweep(factory_uow, publisher=publisher, max_seconds=10)
        return (all_fulfilled(stack.settings) and pending(stack.settings.shop_database_url,
                                                          stack.shop_uow().outbox_model) == 0
                and pending(stack.settings.factory_database_url, FactoryOutbox) == 0)

    # A bound on liveness, not a speed check: a slow run (backoff after unlucky failures) passes.
    wait_for(swept_and_done, timeout=120, interval=0.5, message="every replenishment fulfilled")
    stack.stop()
    figures = assert_exactly_once(stack.settings)
    assert figures["replenishments"] >= len(items)
    assert broker.failures >= 5 and broker.failures < broker.attempts  # failures did happen
    print(f"\n{broker.failures}/{broker.attempts} publishes failed; {figures}")
