"""The purchase and restock rules on a real database: SQLite and MySQL/MariaDB (concurrency:
MySQL/MariaDB only)."""
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.shop import ReplenishmentOrder
from inventory_core.service_layer import shop_service
from tests.helpers import checked_out_connections, outbox_types, shop_state, shop_uow


def start_item3_with(url, quantity):
    """Item3 starts with 3 (the seed); an adjustment keeps the ledger in balance."""
    shop_service.adjust_stock(shop_uow(url), 3, quantity - 3, "test start")


def test_sale_decrements_and_writes_the_ledger(shop_url):
    result = shop_service.purchase(shop_uow(shop_url), "Item3", 2, "alice")
    assert result.completed and result.remaining == 1 and result.replenishment is None
    assert shop_state(shop_url)["stock"]["Item3"] == 1
    assert shop_service.ledger_balance(shop_uow(shop_url), 3) == 1
    assert outbox_types(shop_url) == []


def test_shortage_sells_nothing_and_opens_one_sized_replenishment(shop_url):
    result = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun")
    assert not result.completed and result.remaining == 2
    order = result.replenishment
    assert (order["quantity"], order["status"], order["trigger"]) == (8, "requested", "shortage")
    assert shop_state(shop_url)["stock"]["Item2"] == 2
    assert outbox_types(shop_url) == ["replenishment.requested"]


def test_twenty_failed_purchases_open_exactly_one_replenishment(shop_url):
    results = [shop_service.purchase(shop_uow(shop_url), "Item2", 5, f"buyer{i}")
               for i in range(20)]
    assert {r.replenishment["replenishment_order_id"] for r in results} == {1}
    state = shop_state(shop_url)
    assert state["replenishments"] == 1 and state["purchases"] == 20
    assert outbox_types(shop_url) == ["replenishment.requested"]


def test_selling_out_emits_depleted_and_reorders_at_the_reorder_point(shop_url):
    result = shop_service.purchase(shop_uow(shop_url), "Item1", 1, "bob")
    assert result.completed and result.remaining == 0
    order = result.replenishment
    assert order["trigger"] == "reorder_point" and order["quantity"] == 10
    assert outbox_types(shop_url) == ["stock.depleted", "replenishment.requested"]


def test_receive_stock_applies_once_per_event_and_closes_the_order(shop_url):
    order = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun").replenishment
    event_id = str(uuid.uuid4())
    order_id = order["replenishment_order_id"]
    first = shop_service.receive_stock(shop_uow(shop_url), event_id, 2, 8, order_id)
    again = shop_service.receive_stock(shop_uow(shop_url), event_id, 2, 8, order_id)
    assert first.applied and first.quantity == 10
    assert not again.applied
    assert shop_state(shop_url)["stock"]["Item2"] == 10
    closed = shop_service.get_replenishment(shop_uow(shop_url), order["replenishment_order_id"])
    assert closed["status"] == "fulfilled" and closed["received_quantity"] == 8
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == 10
    # the seed's story ends in a successful purchase
    assert shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun").remaining == 5
    # and a new shortage may open a new order now that the first is closed
    shop_service.purchase(shop_uow(shop_url), "Item2", 50, "jeonghun")
    assert shop_state(shop_url)["replenishments"] == 2


def test_restock_from_zero_emits_restocked(shop_url):
    shop_service.purchase(shop_uow(shop_url), "Item1", 1, "bob")
    order_id = shop_service.list_replenishments(shop_uow(shop_url))[0]["replenishment_order_id"]
    shop_service.receive_stock(shop_uow(shop_url), str(uuid.uuid4()), 1, 10, order_id)
    assert outbox_types(shop_url)[-1] == "stock.restocked"


def test_database_refuses_a_second_open_order_for_an_item(shop_url):
    shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun")
    with session_factory(shop_url)() as session:
        session.add(ReplenishmentOrder(item_id=2, open_item_id=2, quantity=1, status="requested",
                                       trigger="shortage", requester="x"))
        with pytest.raises(IntegrityError):  # SQLAlchemy's, whatever the driver calls it
            session.commit()


# The concurrency tests run on MySQL only: SQLite's BEGIN IMMEDIATE serialises every writer, so
# they could not fail there. They skip without a server, and fail with REQUIRE_MYSQL=1.
MYSQL_ONLY = pytest.mark.parametrize("backend", ["mysql"])


def _buy_concurrently(url, start_stock, threads, attempts_each, quantity=1):
    start_item3_with(url, start_stock)
    barrier = threading.Barrier(threads)

    def buyer(n):
        barrier.wait()
        return [shop_service.purchase(shop_uow(url), "Item3", quantity, f"t{n}")
                for _ in range(attempts_each)]

    with ThreadPoolExecutor(threads) as pool:
        results = [r for batch in pool.map(buyer, range(threads)) for r in batch]
    return results


def _assert_no_oversell(url, results, start_stock, quantity):
    sold = sum(r.quantity for r in results if r.completed)
    remaining = shop_state(url)["stock"]["Item3"]
    assert sold + remaining == start_stock
    assert 0 <= remaining < quantity  # demand exceeded supply, so everything sellable was sold
    assert all(r.remaining >= 0 for r in results)
    assert shop_service.ledger_balance(shop_uow(url), 3) == remaining
    with session_factory(url)() as session:
        open_orders = session.scalars(select(ReplenishmentOrder).where(
            ReplenishmentOrder.open_item_id.is_not(None))).all()
    assert len(open_orders) == 1  # sold out: one replenishment, however many buyers failed
    assert checked_out_connections(url) == 0
    return sold


@MYSQL_ONLY
def test_concurrent_buyers_never_oversell(mysql_backend, shop_url, caplog):
    threads = 16
    with caplog.at_level(logging.INFO, logger="inventory_core"):
        results = _buy_concurrently(shop_url, 60, threads, 10)
    sold = _assert_no_oversell(shop_url, results, 60, 1)
    assert sold == 60 and len(results) == threads * 10
    # Nor deadlock: each purchase row is written before its decrement locks the item, which a
    # foreign key to the item would make a shared lock that two buyers both try to upgrade.
    assert not [r.message for r in caplog.records if "transient database error" in r.message]


@MYSQL_ONLY
def test_concurrent_buyers_of_mixed_quantities_never_oversell(mysql_backend, shop_url):
    threads = 16
    start_item3_with(shop_url, 100)
    barrier = threading.Barrier(threads)

    def buyer(n):
        barrier.wait()
        return [shop_service.purchase(shop_uow(shop_url), "Item3", 1 + (n + i) % 4, f"t{n}")
                for i in range(12)]

    with ThreadPoolExecutor(threads) as pool:
        results = [r for batch in pool.map(buyer, range(threads)) for r in batch]
    sold = sum(r.quantity for r in results if r.completed)
    remaining = shop_state(shop_url)["stock"]["Item3"]
    assert sold + remaining == 100 and remaining >= 0
    assert shop_service.ledger_balance(shop_uow(shop_url), 3) == remaining


@MYSQL_ONLY
def test_concurrent_duplicate_deliveries_restock_once(mysql_backend, shop_url):
    order = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "jeonghun").replenishment
    event_id = str(uuid.uuid4())
    barrier = threading.Barrier(8)

    def deliver(_):
        barrier.wait()
        return shop_service.receive_stock(shop_uow(shop_url), event_id, 2, 8,
                                          order["replenishment_order_id"]).applied

    with ThreadPoolExecutor(8) as pool:
        applied = list(pool.map(deliver, range(8)))
    assert applied.count(True) == 1
    assert shop_state(shop_url)["stock"]["Item2"] == 10
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == 10
