"""The sale's own statements (inventory_core.adapters.sales): the decrement hands back the stock
after it and the units owed to backorders (MySQL: packed in LAST_INSERT_ID; SQLite: RETURNING),
and the sale decides from both. On SQLite and MySQL/MariaDB."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from inventory_core.adapters import sales
from inventory_core.adapters.db import get_engine, session_factory
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import Item, Purchase, ReorderRule, StockLedgerEntry
from inventory_core.domain.events import MAX_QUANTITY
from inventory_core.domain.stock import DEFAULT_RULE, below_reorder_point
from inventory_core.service_layer import shop_service
from inventory_core.service_layer.unit_of_work import is_transient
from tests.helpers import shop_uow


def owe(url: str, item_id: int, quantity: int, owed: int) -> None:
    """Stock and units owed to waiting backorders, set as they are (the sale only reads them)."""
    with session_factory(url).begin() as session:
        session.execute(update(Item).where(Item.item_id == item_id)
                        .values(quantity=quantity, backordered=owed))


def test_a_sale_answers_the_stock_after_it_and_what_is_left_to_sell(shop_url):
    owe(shop_url, 3, MAX_QUANTITY, 123_456)  # both numbers large: neither may spill into the other
    result = shop_service.purchase(shop_uow(shop_url), 3, 7, "alice")
    assert result.completed
    assert result.remaining == MAX_QUANTITY - 7
    assert result.available == MAX_QUANTITY - 7 - 123_456
    with session_factory(shop_url)() as session:
        entry = session.scalars(select(StockLedgerEntry).where(StockLedgerEntry.item_id == 3)
                                .order_by(StockLedgerEntry.entry_id.desc())).first()
        assert (entry.delta, entry.quantity_after) == (-7, MAX_QUANTITY - 7)


def test_a_sale_reorders_from_what_is_left_once_backorders_are_served(shop_url):
    """Stock above the reorder point, but not once the units owed are set aside: it reorders."""
    with session_factory(shop_url).begin() as session:
        session.merge(ReorderRule(item_id=3, reorder_point=5, target_level=20, multiple=1))
    owe(shop_url, 3, 12, 6)
    result = shop_service.purchase(shop_uow(shop_url), 3, 2, "alice")
    assert result.completed and result.remaining == 10 and result.available == 4
    assert result.replenishment is not None
    assert result.replenishment["quantity"] == 20 - 4  # up to the target from 4 free units


MYSQL_ONLY = pytest.mark.parametrize("backend", ["mysql"])  # where the driver runs them itself


@MYSQL_ONLY
def test_a_statement_the_database_refuses_raises_sqlalchemys_error(shop_url):
    with session_factory(shop_url)() as session:
        connection = session.connection()
        with pytest.raises(IntegrityError) as refused:  # no item 99: the foreign key refuses
            sales.record_in_ledger(connection, 99, -1, 0, "sale", "purchase:1", utcnow())
        assert refused.value.orig.args[0] == 1452


@MYSQL_ONLY
def test_a_lock_wait_timeout_is_transient_as_from_sqlalchemy(shop_url):
    """retry_transient retries what is_transient says: the driver's errors must read the same."""
    holder = session_factory(shop_url)()
    try:
        holder.execute(select(Item).where(Item.item_id == 3).with_for_update())
        with session_factory(shop_url)() as session:
            connection = session.connection()
            connection.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
            with pytest.raises(OperationalError) as timed_out:
                sales.decrement(connection, sales.SaleItem(3, "Item3"), 1)
            assert is_transient(timed_out.value)
    finally:
        holder.close()


@pytest.mark.parametrize("on_hand, owed, point, n", [
    (12, 0, None, 2), (11, 0, None, 1), (10, 0, None, 1),  # DEFAULT_RULE's point: 10
    (12, 6, 5, 2), (12, 6, 5, 1), (12, 7, 5, 2), (12, 0, 0, 12), (MAX_QUANTITY, 123_456, 7, 1)])
def test_the_decrement_decides_the_reorder_as_the_domain_rule_does(shop_url, on_hand, owed,
                                                                    point, n):
    """The reorder decision is made in the decrement's own statement (MySQL: packed beside the
    stock in LAST_INSERT_ID): it must be domain.stock.below_reorder_point, at its boundary too."""
    with session_factory(shop_url).begin() as session:
        if point is not None:
            session.merge(ReorderRule(item_id=3, reorder_point=point, target_level=point + 10,
                                      multiple=1))
    owe(shop_url, 3, on_hand, owed)
    with session_factory(shop_url)() as session:
        connection = session.connection()
        item = sales.sale_item(connection, 3)
        assert item is not None
        after = sales.decrement(connection, item, n)
    assert after is not None
    expected_point = DEFAULT_RULE.reorder_point if point is None else point
    assert (after.remaining, after.owed) == (on_hand - n, owed)
    assert after.reorder == below_reorder_point(expected_point, on_hand - n - owed)


@pytest.mark.parametrize("key", [3, "Item3"])
def test_a_kept_item_that_no_longer_names_its_row_is_read_again(shop_url, key):
    """Items are kept per process once sold (sales.sale_item). If the database under it was
    recreated, a kept id or name can point at another row: the sale must notice (the decrement
    checks id and name together) and sell the item the request names, not the kept one."""
    with session_factory(shop_url)() as session:
        engine = session.connection().engine
    stock = {i: shop_service.get_item(shop_uow(shop_url), i)["quantity"] for i in (2, 3)}
    sales._known.setdefault(engine, {})[key] = sales.SaleItem(2, "Item3") if key == "Item3" \
        else sales.SaleItem(3, "Item2")
    result = shop_service.purchase(shop_uow(shop_url), key, 1, "alice")
    assert result.completed and (result.item_id, result.item_name) == (3, "Item3")
    assert shop_service.get_item(shop_uow(shop_url), 3)["quantity"] == stock[3] - 1
    assert shop_service.get_item(shop_uow(shop_url), 2)["quantity"] == stock[2]
    assert sales._known[engine][key] == sales.SaleItem(3, "Item3")  # corrected


@MYSQL_ONLY
def test_the_driver_runs_a_statement_holding_a_literal_of_a_converted_type(shop_url):
    """`.values(column=None)` on a column whose type converts values (UTCDateTime) compiles to a
    parameter SQLAlchemy files under an anonymous key too: the driver must convert by the names
    the SQL uses, not fail (it once raised KeyError there)."""
    from inventory_core.adapters import driver
    from inventory_core.adapters.models.shop import ShopOutbox
    statement = (update(ShopOutbox).where(ShopOutbox.event_id == bindparam("event"))
                 .values(claimed_until=None))
    with session_factory(shop_url)() as session:
        assert driver.run(session.connection(), statement, {"event": "none"}).rowcount == 0


@MYSQL_ONLY
def test_a_warm_sale_holds_the_item_lock_for_the_ledger_insert_and_the_commit_only(shop_url):
    """Every statement after the decrement is time every other buyer of the item waits: the
    purchase row is written before it (adapters.sales), so the lock covers two round trips,
    as the bare UPDATE + ledger INSERT transaction's does."""
    shop_service.purchase(shop_uow(shop_url), 3, 1, "alice")  # the item kept: a warm sale next
    sent: list[str] = []
    engine = get_engine(shop_url)
    dbapi_connection = engine.raw_connection()  # the pool's one idle connection, to watch it
    cursor_class = dbapi_connection.driver_connection.cursorclass
    dbapi_connection.close()

    class Watched(cursor_class):
        def execute(self, query, args=None):
            sent.append(query.split()[0] + " " + query.split()[2 if query.startswith("INSERT")
                                                                  else 1])
            return super().execute(query, args)

    raw = engine.raw_connection()
    raw.driver_connection.cursorclass = Watched
    raw.close()
    try:
        result = shop_service.purchase(shop_uow(shop_url), 3, 1, "alice")
    finally:
        raw = engine.raw_connection()
        raw.driver_connection.cursorclass = cursor_class
        raw.close()
    assert result.completed
    assert sent == ["INSERT purchases", "UPDATE items", "INSERT stock_ledger"]


@pytest.mark.parametrize("key", [3, "Item3"])
def test_a_short_purchase_is_settled_as_short_with_the_stock_it_found(shop_url, key):
    owe(shop_url, 3, 1, 0)
    result = shop_service.purchase(shop_uow(shop_url), key, 2, "alice")
    assert not result.completed and result.replenishment is not None
    with session_factory(shop_url)() as session:
        bought = session.get(Purchase, result.purchase_id)
        assert (bought.item_id, bought.status, bought.remaining,
                bought.replenishment_order_id) == (
            3, "short", 1, result.replenishment["replenishment_order_id"])


def test_a_sale_at_the_counter_leaves_the_stock_after_it_to_its_ledger_row(shop_url):
    owe(shop_url, 3, 50, 0)
    result = shop_service.purchase(shop_uow(shop_url), 3, 2, "alice")
    with session_factory(shop_url)() as session:
        bought = session.get(Purchase, result.purchase_id)
        entry = session.scalars(select(StockLedgerEntry).where(
            StockLedgerEntry.reference == f"purchase:{result.purchase_id}")).one()
    assert (bought.status, bought.remaining, bought.replenishment_order_id) == (
        "completed", None, None)
    assert (entry.delta, entry.quantity_after) == (-2, 48)


def test_a_stale_kept_item_settles_its_purchase_on_the_item_the_database_names(shop_url):
    """The purchase row is written for the kept item before the decrement finds it stale: the
    settled row names the item that was sold."""
    with session_factory(shop_url)() as session:
        engine = session.connection().engine
    sales._known.setdefault(engine, {})["Item3"] = sales.SaleItem(2, "Item3")
    result = shop_service.purchase(shop_uow(shop_url), "Item3", 1, "alice")
    with session_factory(shop_url)() as session:
        assert session.get(Purchase, result.purchase_id).item_id == 3
