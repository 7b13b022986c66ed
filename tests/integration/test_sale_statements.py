"""The sale's own statements (inventory_core.adapters.sales): the decrement hands back the stock
after it and the units owed to backorders (MySQL: packed in LAST_INSERT_ID; SQLite: RETURNING),
and the sale decides from both. On SQLite and MySQL/MariaDB."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from inventory_core.adapters import sales
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.shop import Item, ReorderRule, StockLedgerEntry
from inventory_core.domain.events import MAX_QUANTITY
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
            sales.record_purchase(connection, 99, 1, "alice", "completed", 0, None)
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
                sales.decrement(connection, 3, 1)
            assert is_transient(timed_out.value)
    finally:
        holder.close()
