"""A consumer process SIGKILLed mid-batch, after committing part of its work and before deleting
anything: after the visibility timeout SQS redelivers the whole batch and the work completes,
each message applied exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from consumers import delivery, runtime
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging, ensure_topology
from inventory_core.adapters.models.shop import (
    Item,
    ReplenishmentOrder,
    ShopProcessedEvent,
    StockLedgerEntry,
)
from inventory_core.domain.events import new_event
from local_stack.poller import QueuePoller
from tests.integration.conftest import wait_for
from tests.reliability.conftest import ROOT

MESSAGES = 10
APPLIED_BEFORE_CRASH = 4
VISIBILITY_TIMEOUT = 3


def restocks(url: str) -> tuple[int, int]:
    with session_factory(url)() as session:
        total = func.coalesce(func.sum(StockLedgerEntry.delta), 0)
        rows = session.execute(select(func.count(), total)
                               .where(StockLedgerEntry.reason == "restock")).one()
    return tuple(rows)


def test_a_consumer_killed_mid_batch_has_its_work_completed_once(settings, tmp_path,
                                                                 monkeypatch):
    urls = ensure_topology(settings, visibility_timeout=VISIBILITY_TIMEOUT)
    messaging = Messaging(settings)
    # Only a completion of an open order moves stock: an item of its own per message, each with
    # its replenishment order open.
    with session_factory(settings.shop_database_url).begin() as session:
        for n in range(MESSAGES):
            session.add(Item(item_id=100 + n, name=f"Crash{n}", price=1, quantity=0,
                             factory_id=1))
            session.flush()
            session.add(ReplenishmentOrder(replenishment_order_id=100 + n, item_id=100 + n,
                                           open_item_id=100 + n, quantity=1 + n,
                                           status="requested", trigger="shortage",
                                           requester="crash"))
    events = [new_event("production.completed", {
        "production_order_id": 100 + n, "replenishment_order_id": 100 + n, "factory_id": 1,
        "item_id": 100 + n, "item_name": f"Crash{n}", "quantity": 1 + n,
        "completed_at": "2026-01-01T00:00:00.000"}) for n in range(MESSAGES)]
    for event in events:
        messaging.send(urls["delivery"], event.to_json(),
                       {"type": {"DataType": "String", "StringValue": event.type}})
    with session_factory(settings.shop_database_url)() as session:
        stock_before = dict(session.execute(select(Item.item_id, Item.quantity)).all())

    env = {**os.environ, "SHOP_DATABASE_URL": settings.shop_database_url,
           "AWS_ENDPOINT_URL": settings.aws_endpoint_url, "NAME_PREFIX": settings.name_prefix,
           "AWS_REGION": settings.aws_region}
    marker = tmp_path / "batch-received"
    child = subprocess.Popen([sys.executable, "-m", "tests.reliability.crashing_consumer",
                              urls["delivery"], str(marker), str(APPLIED_BEFORE_CRASH)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(marker.exists, timeout=30, message="the child consumer's first batch")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    batch = json.loads(marker.read_text())
    assert child.returncode == -signal.SIGKILL
    assert batch["received"] == MESSAGES and batch["answer"] == {"batchItemFailures": []}
    # Killed after committing 4 restocks and before deleting: the rest is still to do.
    assert restocks(settings.shop_database_url) == (
        APPLIED_BEFORE_CRASH, sum(e.payload["quantity"] for e in events[:APPLIED_BEFORE_CRASH]))

    # A fresh consumer (the same function, as Lambda would start) after the visibility timeout.
    for name, value in {"SHOP_DATABASE_URL": settings.shop_database_url,
                        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
                        "NAME_PREFIX": settings.name_prefix}.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    came_back = []  # (when, first receive's time) of each redelivered record, by SQS's clock

    def delivery_handler(event, context):
        now = time.time()
        came_back.extend((now, int(r["attributes"]["ApproximateFirstReceiveTimestamp"]) / 1000)
                         for r in event["Records"])
        return delivery.handler(event, context)

    poller = QueuePoller(messaging, urls["delivery"], delivery_handler,
                         batch_size=10, batch_window=0.5, wait_seconds=1)
    wait_for(lambda: poller.poll_once() and poller.stats.deleted == MESSAGES, timeout=30,
             interval=0, message="every message redelivered and deleted")
    runtime.reset()
    assert poller.stats.redeliveries == MESSAGES  # all came back: nothing had been deleted
    # ... and each only once its visibility timeout after the dead consumer received it had passed
    assert len(came_back) == MESSAGES
    assert min(when - first for when, first in came_back) >= VISIBILITY_TIMEOUT - 0.5
    assert messaging.receive(urls["delivery"], 10, 1) == []

    restocked = sum(e.payload["quantity"] for e in events)
    assert restocks(settings.shop_database_url) == (MESSAGES, restocked)
    with session_factory(settings.shop_database_url)() as session:
        stock_after = dict(session.execute(select(Item.item_id, Item.quantity)).all())
        processed = session.scalar(select(func.count()).select_from(ShopProcessedEvent))
        balances = dict(session.execute(select(StockLedgerEntry.item_id,
                                               func.sum(StockLedgerEntry.delta))
                                        .group_by(StockLedgerEntry.item_id)).all())
    assert processed == MESSAGES
    for item_id, before in stock_before.items():
        added = sum(e.payload["quantity"] for e in events if e.payload["item_id"] == item_id)
        assert stock_after[item_id] == before + added
    assert balances == stock_after
