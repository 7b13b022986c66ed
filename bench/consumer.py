"""The delivery consumer's handler on Lambda-shaped batches of 10 `production.completed` events
(MariaDB), against the same writes in plain SQL, one transaction per message."""
from __future__ import annotations

import os
import time
import uuid

from bench.common import mysql_database, pymysql_connect

BATCH = 10


def events(count: int) -> list:
    from inventory_core.domain.events import new_event
    return [new_event("production.completed", {
        "production_order_id": n + 1, "replenishment_order_id": 10_000 + n, "factory_id": 1,
        "item_id": 1 + n % 3, "item_name": f"Item{1 + n % 3}", "quantity": 1 + n % 5,
        "completed_at": "2026-01-01T00:00:00.000"}) for n in range(count)]


def record(event, prefix: str) -> dict:
    return {"messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex,
            "body": event.to_json(), "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {"type": {"stringValue": event.type, "dataType": "String"}},
            "eventSource": "aws:sqs", "awsRegion": "ap-northeast-2",
            "eventSourceARN": f"arn:aws:sqs:ap-northeast-2:123456789012:{prefix}-delivery-queue"}


def handler_run(url: str, count: int) -> float:
    from consumers import delivery, runtime
    os.environ["SHOP_DATABASE_URL"] = url
    runtime.reset()
    batches = [[record(e, "bench") for e in chunk]
               for chunk in (events(count)[i:i + BATCH] for i in range(0, count, BATCH))]
    delivery.handler({"Records": batches[0]})  # warm: engine, pool, imports
    started = time.perf_counter()
    for batch in batches[1:]:
        answer = delivery.handler({"Records": batch})
        assert answer == {"batchItemFailures": []}, answer
    return (count - BATCH) / (time.perf_counter() - started)


def bare_sql_run(url: str, count: int) -> float:
    """What receive_stock does, statement for statement, with nothing around it."""
    conn = pymysql_connect(url)
    conn.autocommit(False)
    cursor = conn.cursor()
    cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    payloads = [(str(uuid.uuid4()), 1 + n % 3, 1 + n % 5, 10_000 + n) for n in range(count)]
    started = time.perf_counter()
    for event_id, item_id, quantity, order_id in payloads:
        cursor.execute("SELECT 1 FROM processed_events WHERE consumer = %s AND event_id = %s",
                       ("delivery", event_id))
        cursor.execute("INSERT INTO processed_events (consumer, event_id, processed_at) "
                       "VALUES (%s, %s, UTC_TIMESTAMP())", ("delivery", event_id))
        cursor.execute("SELECT quantity FROM items WHERE item_id = %s FOR UPDATE", (item_id,))
        before = cursor.fetchone()[0]
        cursor.execute("UPDATE items SET quantity = %s WHERE item_id = %s",
                       (before + quantity, item_id))
        cursor.execute("INSERT INTO stock_ledger (item_id, delta, quantity_after, reason, "
                       "reference, created_at) VALUES (%s, %s, %s, 'restock', %s, UTC_TIMESTAMP())",
                       (item_id, quantity, before + quantity, f"event:{event_id}"))
        cursor.execute("SELECT open_item_id FROM replenishment_orders "
                       "WHERE replenishment_order_id = %s", (order_id,))
        conn.commit()
    rate = count / (time.perf_counter() - started)
    conn.close()
    return rate


def run(count: int) -> dict:
    with mysql_database("shop") as url:
        handler_rate = handler_run(url, count)
    with mysql_database("shop") as url:
        bare_rate = bare_sql_run(url, count)
    return {"handler": handler_rate, "bare": bare_rate, "ratio": handler_rate / bare_rate,
            "messages": count}
