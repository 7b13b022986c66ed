"""Purchases over HTTP, side by side in one run: the shop (`shop_api.wsgi:app`) against the ceiling
app (bench/ceiling_app.py: the same sale as hand-written SQL) and Flask's hello world, all under
the same gunicorn as `make run` starts (2 workers x 4 threads), on one MariaDB database.

Each figure is taken in ROUNDS interleaved slices, so machine load (2 cores, shared) hits every
server alike; the ratios are what to read. After the run: nothing oversold and the ledger balanced.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import median, mysql_database, percentile, progress, pymysql_connect
from local_stack.gunicorn_runner import Gunicorn

CLIENTS = 16
WORKERS, WORKER_THREADS = 2, 4  # as `make run` starts the shop (local_stack/supervisor.py)
ROUNDS = 2
STOCK = 1_000_000  # never runs out: every request is a sale
ITEM_ID, ITEM_NAME = 3, "Item3"


def measure(seconds: float, make_state, one_call, clients: int = CLIENTS) -> dict:
    """`clients` threads, each with its own `make_state()`, call `one_call(state)` back to back
    for `seconds`, all starting together; calls, calls per second and latency percentiles."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    # The clients and this thread meet here once every client has its state. A client that fails
    # first breaks it (and a timeout bounds the wait), so a failure cannot hang the bench.
    ready = threading.Barrier(clients + 1, timeout=60)
    done = threading.Event()

    def client(n: int) -> None:
        try:
            state = make_state()
        except BaseException:
            ready.abort()
            raise
        ready.wait()
        mine = latencies[n]
        while not done.is_set():
            started = time.perf_counter()
            one_call(state)
            mine.append(time.perf_counter() - started)

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, n) for n in range(clients)]
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            ready.abort()
            causes = [e for e in (f.exception() for f in futures)
                      if e is not None and not isinstance(e, threading.BrokenBarrierError)]
            raise RuntimeError("the bench's clients did not all get ready") from (
                causes[0] if causes else None)
        started = time.monotonic()
        time.sleep(seconds)
        done.set()
        for f in futures:
            f.result()
        elapsed = time.monotonic() - started
    flat = [x for mine in latencies for x in mine]
    return {"calls": len(flat), "seconds": elapsed, "latencies": flat}


def summary(slices: list[dict]) -> dict:
    calls = sum(s["calls"] for s in slices)
    flat = [x for s in slices for x in s["latencies"]]
    return {"calls": calls, "per_second": calls / sum(s["seconds"] for s in slices),
            "p50_ms": median(flat) * 1000, "p99_ms": percentile(flat, 99) * 1000}


def caller(url: str, path: str, body: dict, expect: int,
           keyed: bool = False) -> Callable[[requests.Session], None]:
    def call(session: requests.Session) -> None:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if keyed else None
        answer = session.request("GET" if body is None else "POST", url + path, json=body,
                                 headers=headers, timeout=30)
        if answer.status_code != expect:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
    return call


def ledger_check(url: str) -> dict:
    """Stock never negative, every sale ledgered: Σ delta = quantity, and what the purchases sold is
    what the stock lost."""
    connection = pymysql_connect(url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT quantity FROM items WHERE item_id = %s", (ITEM_ID,))
        quantity = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(SUM(delta), 0) FROM stock_ledger WHERE item_id = %s",
                       (ITEM_ID,))
        ledger = int(cursor.fetchone()[0])
        cursor.execute("SELECT COALESCE(SUM(quantity), 0) FROM purchases "
                       "WHERE item_id = %s AND status = 'completed'", (ITEM_ID,))
        sold = int(cursor.fetchone()[0])
    connection.close()
    return {"quantity": quantity, "ledger_balanced": ledger == quantity,
            "oversold": max(0, -quantity), "sold": sold, "sold_matches": sold == STOCK - quantity}


def run(seconds: float, workdir: Path) -> dict:
    from inventory_core.adapters.db import dispose_all, session_factory
    from inventory_core.adapters.models.shop import ShopOutbox
    from inventory_core.service_layer import shop_service
    from inventory_core.service_layer.unit_of_work import UnitOfWork
    with mysql_database("shop") as url:
        uow = UnitOfWork(session_factory(url), ShopOutbox)
        start = shop_service.get_item(uow, ITEM_ID)["quantity"]
        shop_service.adjust_stock(uow, ITEM_ID, STOCK - start, "bench")
        dispose_all()
        shop = Gunicorn("shop_api.wsgi:app", {"SHOP_DATABASE_URL": url,
                                              "FLASK_PUBLISH_AFTER_COMMIT": "false"},
                        WORKERS, WORKER_THREADS).start(workdir / "bench-shop.log")
        ceiling = Gunicorn("bench.ceiling_app:app", {"CEILING_DATABASE_URL": url},
                           WORKERS, WORKER_THREADS).start(workdir / "bench-ceiling.log")
        seed_body = {"item_name": ITEM_NAME, "quantity": 1, "requester": "bench"}
        rest_body = {"item_id": ITEM_ID, "quantity": 1, "requester": "bench"}
        targets = {
            "hello": caller(ceiling.url, "/hello", None, 200),
            "ceiling /item": caller(ceiling.url, "/item", seed_body, 200),
            "shop /item": caller(shop.url, "/item", seed_body, 200),
            "ceiling /purchases": caller(ceiling.url, "/purchases", rest_body, 201),
            "shop /purchases": caller(shop.url, "/purchases", rest_body, 201),
            "shop /purchases + Idempotency-Key": caller(shop.url, "/purchases", rest_body, 201,
                                                        keyed=True),
        }
        single = ("ceiling /purchases", "shop /purchases")
        try:
            progress("warming every worker")
            for call in targets.values():  # warm every worker's pool and imports
                for _ in range(3 * WORKERS * WORKER_THREADS):
                    call(requests.Session())
            slices: dict[str, list[dict]] = {name: [] for name in targets}
            one: dict[str, list[dict]] = {name: [] for name in single}
            for round_ in range(ROUNDS):
                for name, call in targets.items():
                    progress(f"{name}, {CLIENTS} clients, round {round_ + 1}/{ROUNDS}")
                    slices[name].append(measure(seconds / ROUNDS, requests.Session, call))
                for name in single:
                    progress(f"{name}, one client, round {round_ + 1}/{ROUNDS}")
                    one[name].append(measure(seconds / ROUNDS / 2, requests.Session,
                                             targets[name], clients=1))
        finally:
            shop.stop()
            ceiling.stop()
        check = ledger_check(url)
    return {"figures": {name: summary(s) for name, s in slices.items()},
            "one_client": {name: summary(s) for name, s in one.items()},
            "check": check, "workers": WORKERS, "threads": WORKER_THREADS, "clients": CLIENTS}
