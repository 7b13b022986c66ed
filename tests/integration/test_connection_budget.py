"""The connection budget on AWS (deploy/capacity.py, docs/capacity.md) counts one connection per
Lambda container and database: inventory_core.config.LAMBDA_POOL gives each engine one connection
and no overflow. That holds only if no request, batch or scheduled run ever holds two connections
to one database at once (it would wait for itself, then fail). Shown here over the whole flow:
every thread (a request, a poller's batch) is watched as it checks connections out."""
from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import requests
from sqlalchemy import event
from sqlalchemy.pool import Pool

from consumers import outbox_sweep
from inventory_core.config import LAMBDA_POOL, LOCAL_POOL, pool_limits
from tests.integration.conftest import wait_for


class CheckoutWatch:
    """The most connections any one thread held at once, per pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Counter = Counter()  # (thread, pool) -> connections held now
        self._owner: dict[int, tuple[int, int]] = {}  # connection record -> (thread, pool)
        self.most = 0
        self.checkouts = 0

    def checkout(self, _dbapi, record, proxy) -> None:
        key = (threading.get_ident(), id(proxy._pool))  # which pool, as a key
        with self._lock:
            self._owner[id(record)] = key
            self._held[key] += 1
            self.most = max(self.most, self._held[key])
            self.checkouts += 1

    def checkin(self, _dbapi, record) -> None:
        with self._lock:
            key = self._owner.pop(id(record), None)
            if key is not None:
                self._held[key] -= 1


@pytest.fixture
def watch():
    watch = CheckoutWatch()
    event.listen(Pool, "checkout", watch.checkout)
    event.listen(Pool, "checkin", watch.checkin)
    yield watch
    event.remove(Pool, "checkout", watch.checkout)
    event.remove(Pool, "checkin", watch.checkin)


def test_lambda_containers_get_one_connection_per_database():
    assert pool_limits({"AWS_LAMBDA_FUNCTION_NAME": "stock-replenishment-shop-prod"}) == LAMBDA_POOL
    assert LAMBDA_POOL.most == 1
    assert pool_limits({}) == LOCAL_POOL and LOCAL_POOL.most > 1  # local threads share a worker


def test_no_request_or_batch_holds_two_connections_to_one_database(stack, watch):
    stack.start("order", "production", "delivery", "notification")
    # A shortage (post-commit publish), the restock through every queue, keyed and plain sales,
    # an operator's correction, the reads, the scheduled sweeps.
    assert stack.buy("Item2", 5, "jeonghun").startswith("구매 실패!")
    wait_for(lambda: [o for o in stack.replenishments() if o["status"] == "fulfilled"],
             timeout=30, message="the replenishment fulfilled")
    for _ in range(2):
        answer = requests.post(f"{stack.shop.url}/purchases", timeout=15,
                               headers={"Idempotency-Key": "budget-key"},
                               json={"item_name": "Item2", "quantity": 1, "requester": "k"})
        assert answer.status_code == 201, answer.text
    assert stack.buy("Item1", 1).startswith("구매 완료!")
    assert stack.admin("POST", "/items/1/stock-adjustments",
                       json={"delta": 1, "reason": f"count {uuid.uuid4().hex[:6]}"}).ok
    for path in ("/items", "/item", "/replenishment-orders"):
        assert requests.get(f"{stack.shop.url}{path}", timeout=15).ok
    assert requests.get(f"{stack.factory.url}/log", timeout=15).ok
    outbox_sweep.shop_handler()
    outbox_sweep.factory_handler()
    assert watch.checkouts > 20  # it saw the flow's transactions
    assert watch.most == 1
