"""End to end on the local stack (`python -m local_stack`, PRODUCTION_SECONDS=0, SQLite): from a
failed purchase to the stock restored, N times in a row on one stack."""
from __future__ import annotations

import os
import time
from pathlib import Path

import requests

from bench.common import median, percentile, progress
from local_stack.gunicorn_runner import free_port


def _item2(shop: str) -> int:
    items = requests.get(f"{shop}/item", timeout=10).json()
    return next(i["quantity"] for i in items if i["name"] == "Item2")


def run(runs: int, workdir: Path) -> dict:
    from local_stack.launcher import StackProcess
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    shop_port, factory_port, aws_port = sorted(ports)
    env = {**os.environ, "SHOP_PORT": str(shop_port), "FACTORY_PORT": str(factory_port),
           "AWS_PORT": str(aws_port), "PRODUCTION_SECONDS": "0", "NO_COLOR": "1",
           "SHOP_DATABASE_URL": f"sqlite:///{workdir / 'e2e-shop.db'}",
           "FACTORY_DATABASE_URL": f"sqlite:///{workdir / 'e2e-factory.db'}"}
    for name in ("SHOP_URL", "FACTORY_URL", "ADMIN_TOKEN", "NAME_PREFIX", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    shop = f"http://127.0.0.1:{shop_port}"
    stack = StackProcess(env, log_path=workdir / "e2e-stack.log")
    started = time.monotonic()
    progress("starting the local stack")
    stack.start()
    try:
        stack.wait_ready(90)
        ready_seconds = time.monotonic() - started
        restore_seconds = []
        for number in range(1, runs + 1):
            progress(f"run {number}/{runs}" + (f" (last {restore_seconds[-1]:.2f} s)"
                                               if restore_seconds else ""))
            before = _item2(shop)
            answer = requests.post(f"{shop}/item", json={"item_name": "Item2",
                                                         "quantity": before + 1,
                                                         "requester": "bench"}, timeout=10)
            failed_at = time.perf_counter()
            assert "생산요청" in answer.json()["message"], answer.text
            deadline = time.monotonic() + 60
            while _item2(shop) <= before:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"stock not restored within 60 s; see {workdir}")
                time.sleep(0.02)
            restore_seconds.append(time.perf_counter() - failed_at)
    finally:
        stack.stop()
    return {"runs": runs, "median": median(restore_seconds), "p95": percentile(restore_seconds, 95),
            "min": min(restore_seconds), "max": max(restore_seconds), "ready": ready_seconds}
