"""The delivery consumer's handler on Lambda-shaped batches of 10 `production.completed` events
(MariaDB), against the same work in plain SQL, one transaction per message.

Every message restocks: message n completes replenishment order 10000+n of item 1000+n (stock 0,
its own item, so no two messages wait on one row lock), accepted by the factory as production
order 20000+n, for exactly the quantity ordered. So each one records its event id, locks the item
and the order, closes the order, adds the stock with its ledger row and writes one outbox row
(`stock.restocked`: the item was out of stock). Both runs are checked afterwards: every order
fulfilled, stock and ledger as delivered, no anomaly; the benchmark fails otherwise.

The handler publishes after commit, as deployed, to a broker that only counts (SNS's time is not
ours to cut; the relay's database work is, and is measured)."""
from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime

from bench.common import mysql_database, progress, pymysql_connect

BATCH = 10
FIRST_ITEM, FIRST_ORDER, FIRST_PRODUCTION_ORDER = 1000, 10_000, 20_000
CONSUMER = "delivery"


def quantity_of(n: int) -> int:
    return 1 + n % 5


def factory_of(n: int) -> int:
    return 1 + n % 2  # the seed's two factories


def setup(url: str, count: int) -> None:
    """Items 1000+n (out of stock) and their accepted orders 10000+n, as the shop has them when
    the factory accepted production order 20000+n. Not timed."""
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = pymysql_connect(url)
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO items (item_id, name, price, quantity, backordered, factory_id) "
            "VALUES (%s, %s, 1000, 0, 0, %s)",
            [(FIRST_ITEM + n, f"BenchItem{n}", factory_of(n)) for n in range(count)])
        cursor.executemany(
            "INSERT INTO replenishment_orders (replenishment_order_id, item_id, open_item_id, "
            "quantity, status, `trigger`, requester, factory_reference, created_at, accepted_at, "
            "request_count, requested_at) VALUES (%s, %s, %s, %s, 'accepted', 'shortage', "
            "'bench', %s, %s, %s, 1, %s)",
            [(FIRST_ORDER + n, FIRST_ITEM + n, FIRST_ITEM + n, quantity_of(n),
              str(FIRST_PRODUCTION_ORDER + n), now, now, now) for n in range(count)])
    conn.close()


def events(count: int) -> list:
    from inventory_core.domain.events import new_event
    return [new_event("production.completed", {
        "production_order_id": FIRST_PRODUCTION_ORDER + n,
        "replenishment_order_id": FIRST_ORDER + n, "factory_id": factory_of(n),
        "item_id": FIRST_ITEM + n, "item_name": f"BenchItem{n}", "quantity": quantity_of(n),
        "completed_at": "2026-01-01T00:00:00.000"}) for n in range(count)]


def record(event, prefix: str) -> dict:
    return {"messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex,
            "body": event.to_json(), "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {"type": {"stringValue": event.type, "dataType": "String"}},
            "eventSource": "aws:sqs", "awsRegion": "ap-northeast-2",
            "eventSourceARN": f"arn:aws:sqs:ap-northeast-2:123456789012:{prefix}-delivery-queue"}


class CountingBroker:
    """Stands in for SNS after commit: takes every publish, sends nothing."""

    publish_timeout_seconds = 0.0

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, destination: str, event_type: str, body: str, delay_seconds: int = 0):
        self.published.append(event_type)

    def warm(self) -> None:
        pass


class Handler:
    """The delivery consumer's Lambda handler on the bench database, one batch at a time."""

    def __init__(self, url: str, count: int):
        from consumers import delivery, runtime
        os.environ["SHOP_DATABASE_URL"] = url
        runtime.reset()
        self.broker = CountingBroker()
        self._runtime, self._messaging = runtime, runtime.messaging
        runtime.messaging = lambda: self.broker
        self._handler = delivery.handler
        records = [record(e, "bench") for e in events(count)]
        self.batches = [records[i:i + BATCH] for i in range(0, count, BATCH)]

    def run(self, index: int) -> None:
        answer = self._handler({"Records": self.batches[index]})
        assert answer == {"batchItemFailures": []}, answer

    def close(self) -> None:
        self._runtime.messaging = self._messaging


class BareSql:
    """What the consumer does for a matching completion, by hand: record the event id (its
    primary key refuses a duplicate), lock the item, lock the order, add the stock, its ledger
    row, close the order, the `stock.restocked` outbox row; one transaction per message."""

    def __init__(self, url: str, count: int):
        self.conn = pymysql_connect(url)
        self.conn.autocommit(False)
        self.cursor = self.conn.cursor()
        self.cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        payloads = [(str(uuid.uuid4()), FIRST_ITEM + n, quantity_of(n), FIRST_ORDER + n,
                     str(FIRST_PRODUCTION_ORDER + n)) for n in range(count)]
        self.batches = [payloads[i:i + BATCH] for i in range(0, count, BATCH)]

    def run(self, index: int) -> None:
        conn, cursor = self.conn, self.cursor
        for event_id, item_id, quantity, order_id, reference in self.batches[index]:
            cursor.execute("INSERT INTO processed_events (consumer, event_id, processed_at) "
                           "VALUES (%s, %s, UTC_TIMESTAMP(6))", (CONSUMER, event_id))
            cursor.execute("SELECT quantity, backordered, name FROM items WHERE item_id = %s "
                           "FOR UPDATE", (item_id,))
            before, _owed, name = cursor.fetchone()
            cursor.execute("SELECT status, item_id, quantity, factory_reference FROM "
                           "replenishment_orders WHERE replenishment_order_id = %s FOR UPDATE",
                           (order_id,))
            status, ordered_item, ordered, accepted_as = cursor.fetchone()
            assert (status, ordered_item, ordered, accepted_as) == (
                "accepted", item_id, quantity, reference)
            after = before + quantity
            cursor.execute("UPDATE items SET quantity = %s WHERE item_id = %s", (after, item_id))
            cursor.execute("INSERT INTO stock_ledger (item_id, delta, quantity_after, reason, "
                           "reference, created_at) VALUES (%s, %s, %s, 'restock', %s, "
                           "UTC_TIMESTAMP(6))", (item_id, quantity, after, f"event:{event_id}"))
            cursor.execute("UPDATE replenishment_orders SET status = 'fulfilled', "
                           "open_item_id = NULL, fulfilled_at = UTC_TIMESTAMP(6), "
                           "received_quantity = %s WHERE replenishment_order_id = %s",
                           (quantity, order_id))
            restocked_id = str(uuid.uuid4())
            body = json.dumps({"event_id": restocked_id, "type": "stock.restocked", "version": 1,
                               "occurred_at": datetime.now(UTC).isoformat(),
                               "correlation_id": event_id,
                               "payload": {"item_id": item_id, "item_name": name,
                                           "quantity": after}}, separators=(",", ":"))
            cursor.execute("INSERT INTO outbox (event_id, event_type, destination, body, "
                           "delay_seconds, created_at, attempts) VALUES (%s, 'stock.restocked', "
                           "'stock_events', %s, 0, UTC_TIMESTAMP(6), 0)", (restocked_id, body))
            conn.commit()

    def close(self) -> None:
        self.conn.close()


def check(url: str, count: int, published: bool) -> None:
    """Every order fulfilled with what arrived, the stock and its ledger as delivered, every
    event id recorded once, one `stock.restocked` row per message (marked published by the
    handler), no anomaly."""
    conn = pymysql_connect(url)
    with conn.cursor() as cursor:
        def one(sql: str, *args) -> tuple:
            cursor.execute(sql, args)
            return cursor.fetchone()

        items = f"item_id >= {FIRST_ITEM}"
        expected_units = sum(quantity_of(n) for n in range(count))
        assert one("SELECT COUNT(*) FROM replenishment_orders WHERE replenishment_order_id >= %s "
                   "AND status = 'fulfilled' AND open_item_id IS NULL AND fulfilled_at IS NOT NULL "
                   "AND received_quantity = quantity", FIRST_ORDER) == (count,), "orders"
        assert one(f"SELECT COUNT(*), SUM(quantity) FROM items WHERE {items}") == (
            count, expected_units), "stock"
        assert one(f"SELECT COUNT(*) FROM items i WHERE {items} AND quantity <> "
                   "(SELECT SUM(delta) FROM stock_ledger l WHERE l.item_id = i.item_id)") == (0,), \
            "ledger out of balance"
        assert one(f"SELECT COUNT(*), SUM(delta) FROM stock_ledger WHERE {items} "
                   "AND reason = 'restock'") == (count, expected_units), "ledger"
        assert one("SELECT COUNT(*) FROM processed_events WHERE consumer = %s",
                   CONSUMER) == (count,), "event ids"
        assert one("SELECT COUNT(*) FROM outbox WHERE event_type = 'stock.restocked'") == (
            count,), "outbox"
        assert one("SELECT COUNT(*) FROM delivery_anomalies") == (0,), "anomalies"
        if published:
            assert one("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == (0,), \
                "unpublished"
    conn.close()


def run(count: int) -> dict:
    """Both on their own database, a batch of each in turn (the first one of each is a warm-up),
    so a machine busy with something else for a while slows both alike."""
    with mysql_database("shop") as handler_url, mysql_database("shop") as bare_url:
        setup(handler_url, count)
        setup(bare_url, count)
        handler, bare = Handler(handler_url, count), BareSql(bare_url, count)
        spent = {handler: 0.0, bare: 0.0}
        try:
            for index in range(len(handler.batches)):
                for side in (handler, bare) if index % 2 else (bare, handler):
                    started = time.perf_counter()
                    side.run(index)
                    if index:
                        spent[side] += time.perf_counter() - started
                # Between timed stretches: a clock read; a line every 2 s.
                progress("handler and plain SQL", (index + 1) * BATCH, count, "messages each")
        finally:
            handler.close()
            bare.close()
        assert handler.broker.published == ["stock.restocked"] * count, handler.broker.published
        check(handler_url, count, published=True)
        check(bare_url, count, published=False)
    timed = count - BATCH
    handler_rate, bare_rate = timed / spent[handler], timed / spent[bare]
    return {"handler": handler_rate, "bare": bare_rate, "ratio": handler_rate / bare_rate,
            "messages": count}
