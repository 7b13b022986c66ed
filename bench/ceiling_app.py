"""The limit the shop's purchase is measured against (issue 12): the thinnest Flask app that makes
the same sale as hand-written SQL in one transaction, on the shop's own schema, under the same
gunicorn; and Flask's hello world, which shows what HTTP + WSGI alone cost.

    CEILING_DATABASE_URL=mysql+pymysql://root@127.0.0.1:3306/shop \
        gunicorn bench.ceiling_app:app

The sale, statement for statement what the shop did when the issue was filed: SELECT the item,
the conditional UPDATE, SELECT ... FOR UPDATE (the quantity now), INSERT the purchase, INSERT the
ledger row, COMMIT. What it leaves out is what the shop adds around it: validation beyond a type
check, the replenishment order and outbox event of a shortage (`make bench` never runs short),
OpenAPI, idempotency keys. One pymysql connection per gunicorn thread, no pool, no ORM.
Benchmark tooling only: never deployed (the zip callback refuses `bench/`).
"""
from __future__ import annotations

import os
import threading

import pymysql
from flask import Flask, jsonify, request
from sqlalchemy.engine import make_url

app = Flask(__name__)
_local = threading.local()

SELECT_BY_NAME = "SELECT item_id FROM items WHERE name = %s"
SELECT_BY_ID = "SELECT item_id FROM items WHERE item_id = %s"
DECREMENT = ("UPDATE items SET quantity = quantity - %s "
             "WHERE item_id = %s AND quantity >= %s")
LOCK_AND_READ = "SELECT quantity FROM items WHERE item_id = %s FOR UPDATE"
INSERT_PURCHASE = ("INSERT INTO purchases (item_id, quantity, requester, status, remaining, "
                   "created_at) VALUES (%s, %s, %s, %s, %s, UTC_TIMESTAMP(6))")
INSERT_LEDGER = ("INSERT INTO stock_ledger (item_id, delta, quantity_after, reason, reference, "
                 "created_at) VALUES (%s, %s, %s, 'sale', %s, UTC_TIMESTAMP(6))")


def _connection() -> pymysql.connections.Connection:
    """This thread's connection, opened on first use (READ COMMITTED, as the shop's engine)."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        url = make_url(os.environ["CEILING_DATABASE_URL"])
        connection = _local.connection = pymysql.connect(
            host=url.host, port=url.port or 3306, user=url.username, password=url.password or "",
            database=url.database, charset="utf8mb4", autocommit=False)
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return connection


def sell(item: str | int, quantity: int, requester: str) -> tuple[bool, int, int] | None:
    """(sold, remaining, purchase id), or None when there is no such item."""
    connection = _connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(SELECT_BY_NAME if isinstance(item, str) else SELECT_BY_ID, (item,))
            row = cursor.fetchone()
            if row is None:
                connection.rollback()
                return None
            item_id = row[0]
            sold = cursor.execute(DECREMENT, (quantity, item_id, quantity)) == 1
            cursor.execute(LOCK_AND_READ, (item_id,))
            remaining = cursor.fetchone()[0]
            cursor.execute(INSERT_PURCHASE, (item_id, quantity, requester,
                                             "completed" if sold else "short", remaining))
            purchase_id = cursor.lastrowid
            if sold:
                cursor.execute(INSERT_LEDGER, (item_id, -quantity, remaining,
                                               f"purchase:{purchase_id}"))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return sold, remaining, purchase_id


def _order(key: str) -> tuple[str | int, int, str] | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None
    item, quantity, requester = body.get(key), body.get("quantity"), body.get("requester")
    if (not isinstance(item, str | int) or not isinstance(quantity, int) or quantity < 1
            or not isinstance(requester, str)):
        return None
    return item, quantity, requester


@app.post("/item")
def seed_purchase():
    """The seed's route and answers."""
    order = _order("item_name")
    if order is None:
        return jsonify(message="Invalid purchase request."), 400
    sale = sell(*order)
    if sale is None:
        return jsonify(message="상품 없음"), 400
    sold, remaining, _ = sale
    if sold:
        return jsonify(message=f"구매 완료! 남은 재고: {remaining}")
    return jsonify(message=f"구매 실패! 남은 재고: {remaining}, 생산요청 진행중")


@app.post("/purchases")
def purchase():
    order = _order("item_id")
    if order is None:
        return jsonify(message="Invalid purchase request."), 422
    sale = sell(*order)
    if sale is None:
        return jsonify(message="That item does not exist."), 404
    sold, remaining, purchase_id = sale
    if not sold:
        return jsonify(message="Too little stock.", available=remaining), 409
    return jsonify(purchase_id=purchase_id, item_id=order[0], quantity=order[1],
                   remaining=remaining, status="completed"), 201


@app.get("/hello")
def hello():
    """Flask's hello world: the floor of any request through this server."""
    return "Hello, World!"


@app.get("/health")
def health():
    return {"status": "ok"}
