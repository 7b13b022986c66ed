"""32 threads x 300 purchases of one item, over HTTP, through gunicorn, on MariaDB.

The server publishes after commit (PUBLISH_AFTER_COMMIT on) to moto's SNS, as deployed."""
from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from inventory_core.adapters.db import dispose_all, session_factory
from inventory_core.adapters.messaging import ensure_topology
from inventory_core.adapters.models.shop import Purchase, ReplenishmentOrder, StockLedgerEntry
from inventory_core.service_layer import shop_service
from tests.helpers import shop_state, shop_uow
from tests.reliability.conftest import scaled, server_connections

THREADS = 32
# 300 each: 9,600 purchases, about 40 s on two quiet cores (RELIABILITY_PURCHASES_EACH to change).
PURCHASES_EACH = int(os.environ.get("RELIABILITY_PURCHASES_EACH") or scaled(300, 10))
START_STOCK = THREADS * PURCHASES_EACH // 3  # demand is three times the supply
WORKERS, WORKER_THREADS = 3, 4
POOL_SIZE = 5  # inventory_core.adapters.db.make_engine


def test_thousands_of_concurrent_http_purchases_sell_exactly_the_stock(
        fresh_database, gunicorn, moto_endpoint):
    url = fresh_database("shop")
    shop_service.adjust_stock(shop_uow(url), 3, START_STOCK - 3, "reliability start")
    prefix = f"r{uuid.uuid4().hex[:10]}"
    from inventory_core.config import Settings
    ensure_topology(Settings(aws_endpoint_url=moto_endpoint, name_prefix=prefix))
    dispose_all()
    server = gunicorn("shop_api.wsgi:app", {
        "SHOP_DATABASE_URL": url, "AWS_ENDPOINT_URL": moto_endpoint, "NAME_PREFIX": prefix,
        "FLASK_PUBLISH_AFTER_COMMIT": "true"}, workers=WORKERS, threads=WORKER_THREADS)

    barrier = threading.Barrier(THREADS)
    statuses: dict[int, int] = {}
    remainders: list[int] = []
    lock = threading.Lock()

    def buyer(n: int):
        local_statuses: dict[int, int] = {}
        local_remainders = []
        with requests.Session() as http:
            barrier.wait()
            for _ in range(PURCHASES_EACH):
                answer = http.post(f"{server.url}/purchases", json={
                    "item_id": 3, "quantity": 1, "requester": f"buyer{n}"}, timeout=30)
                local_statuses[answer.status_code] = local_statuses.get(answer.status_code, 0) + 1
                body = answer.json()
                local_remainders.append(body["remaining"] if answer.status_code == 201
                                        else body.get("available", -1))
        with lock:
            for code, count in local_statuses.items():
                statuses[code] = statuses.get(code, 0) + count
            remainders.extend(local_remainders)

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(buyer, range(THREADS)))
    seconds = time.monotonic() - started

    total = THREADS * PURCHASES_EACH
    assert sum(statuses.values()) == total
    assert set(statuses) <= {201, 409}, statuses  # nothing else: no 5xx, no lost request
    assert statuses[201] == START_STOCK, statuses  # sold = the starting stock, exactly
    assert min(remainders) >= 0  # no answer ever showed a negative stock
    state = shop_state(url)
    assert state["stock"]["Item3"] == 0
    assert state["purchases"] == total
    with session_factory(url)() as session:
        sales = session.execute(select(func.count(), func.sum(StockLedgerEntry.delta),
                                       func.min(StockLedgerEntry.quantity_after))
                                .where(StockLedgerEntry.item_id == 3,
                                       StockLedgerEntry.reason == "sale")).one()
        completed = session.scalar(select(func.count()).select_from(Purchase)
                                   .where(Purchase.status == "completed"))
        open_orders = session.scalar(select(func.count()).select_from(ReplenishmentOrder)
                                     .where(ReplenishmentOrder.open_item_id == 3))
    assert sales == (START_STOCK, -START_STOCK, 0)  # one ledger row per unit sold, never below 0
    assert completed == START_STOCK
    assert shop_service.ledger_balance(shop_uow(url), 3) == 0  # the ledger balances
    assert open_orders == 1  # one replenishment however many buyers found nothing
    print(f"\n{total} purchases in {seconds:.1f}s ({total / seconds:.0f}/s): {statuses}")

    # Idle, the server keeps at most its pools' connections: each worker's pool is bounded.
    dispose_all()  # this process's own connections are not the server's
    time.sleep(0.5)
    idle = server_connections(url)
    assert 0 < idle <= WORKERS * min(POOL_SIZE, WORKER_THREADS + 1), idle
    # Stopped, it holds none: nothing leaked past the workers' lifetime.
    server.stop()
    deadline = time.monotonic() + 10
    while server_connections(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server_connections(url) == 0
