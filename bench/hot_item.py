"""A hot item: 64 threads buying one item through `inventory_core` (shop_service.purchase, no
HTTP), against the bare transaction a sale cannot do without, from as many threads on the same
row: the conditional UPDATE, the ledger INSERT, COMMIT. Both are bounded by how long each
transaction holds the item's row lock; interleaved rounds, so machine load hits both alike."""
from __future__ import annotations

from bench.common import mysql_database, progress, pymysql_connect
from bench.purchases import ITEM_ID, ROUNDS, STOCK, ledger_check, measure, summary

THREADS = 64
BARE_DECREMENT = ("UPDATE items SET quantity = quantity - 1 "
                  "WHERE item_id = %s AND quantity >= 1")
BARE_LEDGER = ("INSERT INTO stock_ledger (item_id, delta, quantity_after, reason, reference, "
               "created_at) VALUES (%s, -1, 0, 'sale', 'bench', UTC_TIMESTAMP(6))")


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

        slices: dict[str, list[dict]] = {"inventory_core": [], "bare": []}
        for round_ in range(ROUNDS):
            progress(f"inventory_core then bare, round {round_ + 1}/{ROUNDS}")
            slices["inventory_core"].append(measure(
                seconds / ROUNDS, lambda: UnitOfWork(sessions, ShopOutbox), ours, THREADS))
            slices["bare"].append(measure(seconds / ROUNDS, lambda: _bare_connection(url),
                                          _bare_sale, THREADS))
        dispose_all()
        check = ledger_check(url)
    figures = {name: summary(s) for name, s in slices.items()}
    # The bare sales write ledger rows too (so the balance covers both) but no purchases.
    check.pop("sold_matches")
    return {"figures": figures, "threads": THREADS, "check": check,
            "ratio": figures["inventory_core"]["per_second"] / figures["bare"]["per_second"]}
