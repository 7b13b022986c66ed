"""A hot item: 64 threads buying one item through `inventory_core` (shop_service.purchase, no
HTTP), against programs from as many threads on the same row, in interleaved rounds (so machine
load hits all alike):
- bare (the issue's baseline): the conditional UPDATE, a ledger INSERT, COMMIT;
- by hand: the statements a sale of ours sends, written out for pymysql: the purchase INSERT, the
  UPDATE that hands back the stock and the reorder decision, the ledger INSERT naming the
  purchase, COMMIT. What ours costs beyond it is our code; beyond bare, the purchase row;
- in the lock (before): the same with the purchase INSERT after the UPDATE, as sales were written
  until the purchase row went first: one more statement while every other buyer waits.

Twice: on loopback, where client and server share this machine's cores and the contest is for
CPU as much as for the lock; and with a network round trip added to every statement (a sleep
before each command, as a client on another host waits for it: AWS's Lambda to RDS), where the
lock is what limits one item, as it does deployed (docs/capacity.md). On loopback each contender's
CPU per sale is counted too (this process's, and the local MariaDB server's from /proc)."""
from __future__ import annotations

import time
from contextlib import contextmanager

import pymysql

from bench.common import mysql_database, progress, pymysql_connect, server_cpu_seconds
from bench.purchases import (
    ITEM_ID,
    ITEM_NAME,
    ROUNDS,
    STOCK,
    ledger_check,
    measure,
    summary,
)

THREADS = 64
CONTENDERS = ("inventory_core", "by_hand", "in_lock", "bare")
ROUND_TRIP_S = 0.0005  # Lambda to RDS in one Availability Zone: about 0.5 ms (docs/capacity.md)
BARE_DECREMENT = ("UPDATE items SET quantity = quantity - 1 "
                  "WHERE item_id = %s AND quantity >= 1")
BARE_LEDGER = ("INSERT INTO stock_ledger (item_id, delta, quantity_after, reason, reference, "
               "created_at) VALUES (%s, -1, 0, 'sale', 'bench', UTC_TIMESTAMP(6))")


# Our decrement (adapters.sales, MySQL): stock after, units owed and the reorder bit in
# LAST_INSERT_ID; DEFAULT_RULE's point 1 when the item has no rule.
HAND_DECREMENT = (
    "UPDATE items SET quantity = LAST_INSERT_ID((quantity - %(n)s) * 4294967296 + "
    "backordered * 2 + ((quantity - %(n)s) - backordered < COALESCE((SELECT reorder_point FROM "
    "reorder_rules WHERE reorder_rules.item_id = items.item_id), 1))) DIV 4294967296 "
    "WHERE item_id = %(id)s AND name = %(name)s AND quantity - backordered >= %(n)s")
HAND_PURCHASE = ("INSERT INTO purchases (item_id, quantity, requester, status, remaining, "
                 "replenishment_order_id, created_at) VALUES (%s, 1, 'bench', 'completed', %s, "
                 "NULL, UTC_TIMESTAMP(6))")
HAND_LEDGER = ("INSERT INTO stock_ledger (item_id, delta, quantity_after, reason, reference, "
               "created_at) VALUES (%s, -1, %s, 'sale', %s, UTC_TIMESTAMP(6))")


def _bare_connection(url: str):
    connection = pymysql_connect(url)
    connection.autocommit(False)
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return connection


def _bare_sale(connection) -> None:
    with connection.cursor() as cursor:
        if cursor.execute(BARE_DECREMENT, (ITEM_ID,)) == 1:
            cursor.execute(BARE_LEDGER, (ITEM_ID,))
    connection.commit()


def _hand_sale(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute(HAND_PURCHASE, (ITEM_ID, None))
        purchase_id = cursor.lastrowid
        if cursor.execute(HAND_DECREMENT, {"n": 1, "id": ITEM_ID, "name": ITEM_NAME}) == 1:
            left = cursor.lastrowid // 4294967296
            cursor.execute(HAND_LEDGER, (ITEM_ID, left, f"purchase:{purchase_id}"))
    connection.commit()


def _in_lock_sale(connection) -> None:
    with connection.cursor() as cursor:
        if cursor.execute(HAND_DECREMENT, {"n": 1, "id": ITEM_ID, "name": ITEM_NAME}) == 1:
            left = cursor.lastrowid // 4294967296
            cursor.execute(HAND_PURCHASE, (ITEM_ID, left))
            cursor.execute(HAND_LEDGER, (ITEM_ID, left, f"purchase:{cursor.lastrowid}"))
    connection.commit()


@contextmanager
def round_trip(seconds: float):
    """Every command any pymysql connection of this process sends waits `seconds` first: ours
    (through SQLAlchemy and adapters.driver) and the hand-written ones alike."""
    if not seconds:
        yield
        return
    send = pymysql.connections.Connection._execute_command

    def delayed(connection, command, sql):
        time.sleep(seconds)
        return send(connection, command, sql)

    pymysql.connections.Connection._execute_command = delayed
    try:
        yield
    finally:
        pymysql.connections.Connection._execute_command = send


def run(seconds: float) -> dict:
    from inventory_core.adapters.db import dispose_all, session_factory
    from inventory_core.adapters.models.shop import ShopOutbox
    from inventory_core.service_layer import shop_service
    from inventory_core.service_layer.unit_of_work import UnitOfWork
    with mysql_database("shop") as url:
        sessions = session_factory(url)
        start = shop_service.get_item(UnitOfWork(sessions, ShopOutbox), ITEM_ID)["quantity"]
        shop_service.adjust_stock(UnitOfWork(sessions, ShopOutbox), ITEM_ID, STOCK - start,
                                  "bench")

        def ours(uow: UnitOfWork) -> None:
            if not shop_service.purchase(uow, ITEM_ID, 1, "bench").completed:
                raise RuntimeError("the hot item ran out")

        regimes = {}
        for regime, delay in (("loopback", 0.0), ("round_trip", ROUND_TRIP_S)):
            slices: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
            for round_ in range(ROUNDS):
                progress(f"{regime}: inventory_core, by hand, in the lock, bare: "
                         f"round {round_ + 1}/{ROUNDS}")
                with round_trip(delay):
                    slices["inventory_core"].append(_with_cpu(
                        seconds / ROUNDS / 2, lambda: UnitOfWork(sessions, ShopOutbox), ours))
                    for name, sale in (("by_hand", _hand_sale), ("in_lock", _in_lock_sale),
                                       ("bare", _bare_sale)):
                        slices[name].append(_with_cpu(seconds / ROUNDS / 2,
                                                      lambda: _bare_connection(url), sale))
            regimes[regime] = _ratios({name: {**summary(s), **_cpu_per_sale(s)}
                                       for name, s in slices.items()})
        dispose_all()
        check = ledger_check(url)
    # The bare sales write ledger rows too (so the balance covers all) but no purchases.
    check.pop("sold_matches")
    return {"regimes": regimes, "threads": THREADS, "round_trip_ms": ROUND_TRIP_S * 1000,
            "check": check}


def _with_cpu(seconds: float, make_state, one_call) -> dict:
    """`measure`, and the CPU this process (the clients) and the database server spent in it:
    on loopback the two share the machine's cores, and what a sale costs in CPU limits it."""
    client, server = time.process_time(), server_cpu_seconds()
    measured = measure(seconds, make_state, one_call, THREADS)
    server_after = server_cpu_seconds()
    measured["client_cpu"] = time.process_time() - client
    measured["server_cpu"] = (None if server is None or server_after is None
                              else server_after - server)
    return measured


def _cpu_per_sale(slices: list[dict]) -> dict:
    calls = sum(s["calls"] for s in slices)
    server = [s["server_cpu"] for s in slices]
    return {"client_us": sum(s["client_cpu"] for s in slices) / calls * 1e6,
            "server_us": None if None in server else sum(server) / calls * 1e6}


def _ratios(figures: dict) -> dict:
    bare = figures["bare"]["per_second"]
    ours = figures["inventory_core"]["per_second"]
    return {"figures": figures, "ratio": ours / bare,
            "ratio_by_hand": ours / figures["by_hand"]["per_second"],
            "by_hand_to_bare": figures["by_hand"]["per_second"] / bare,
            "in_lock_to_bare": figures["in_lock"]["per_second"] / bare}
