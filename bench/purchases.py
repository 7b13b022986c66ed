"""Purchase throughput and latency over HTTP (gunicorn, MariaDB) against bare conditional UPDATEs
from as many threads on the same database."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.common import median, mysql_database, percentile, pymysql_connect
from local_stack.gunicorn_runner import Gunicorn

CLIENTS = 16
WORKERS, WORKER_THREADS = 3, 4
STOCK = 1_000_000  # never runs out: every request is a sale


def measure(seconds: float, make_state, one_call) -> dict:
    """CLIENTS threads, each with its own `make_state()`, call `one_call(state)` back to back for
    `seconds`, all starting together; calls, calls per second and latency percentiles."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    # The clients and this thread meet here once every client has its state. A client that fails
    # first breaks it (and a timeout bounds the wait), so a failure cannot hang the bench.
    ready = threading.Barrier(CLIENTS + 1, timeout=60)
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

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, n) for n in range(CLIENTS)]
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
    return {"calls": len(flat), "per_second": len(flat) / elapsed,
            "p50_ms": median(flat) * 1000, "p99_ms": percentile(flat, 99) * 1000}


def run(seconds: float, workdir: Path) -> dict:
    from inventory_core.adapters.db import dispose_all, session_factory
    from inventory_core.adapters.models.shop import ShopOutbox
    from inventory_core.service_layer import shop_service
    from inventory_core.service_layer.unit_of_work import UnitOfWork
    with mysql_database("shop") as url:
        shop_service.adjust_stock(UnitOfWork(session_factory(url), ShopOutbox), 3, STOCK - 3,
                                  "bench")
        dispose_all()
        # Baseline: the one statement a sale cannot do without, from as many threads.
        bare = measure(seconds, lambda: pymysql_connect(url), lambda conn: conn.cursor().execute(
            "UPDATE items SET quantity = quantity - 1 WHERE item_id = %s AND quantity >= 1", (3,)))
        server = Gunicorn("shop_api.wsgi:app", {"SHOP_DATABASE_URL": url,
                                                "FLASK_PUBLISH_AFTER_COMMIT": "false"},
                          WORKERS, WORKER_THREADS).start(workdir / "bench-gunicorn.log")
        try:
            def buy(session: requests.Session):
                answer = session.post(f"{server.url}/purchases", json={
                    "item_id": 3, "quantity": 1, "requester": "bench"}, timeout=30)
                if answer.status_code != 201:
                    raise RuntimeError(f"purchase answered {answer.status_code}: {answer.text}")
            for _ in range(50):  # warm every worker's pool and imports
                buy(requests.Session())
            http = measure(seconds, requests.Session, buy)
        finally:
            server.stop()
    return {"http": http, "bare": bare, "ratio": http["per_second"] / bare["per_second"],
            "workers": WORKERS, "threads": WORKER_THREADS, "clients": CLIENTS}
