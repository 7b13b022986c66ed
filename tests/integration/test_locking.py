"""Row locks and state transitions of replenishment orders."""
import uuid

import pytest
from sqlalchemy import text

from inventory_core.adapters.db import session_factory
from inventory_core.service_layer import shop_service
from tests.helpers import shop_uow


def test_acceptance_never_reopens_a_fulfilled_order(shop_url):
    order = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "a").replenishment
    order_id = order["replenishment_order_id"]
    shop_service.receive_stock(shop_uow(shop_url), str(uuid.uuid4()), 2, 8, order_id)
    assert shop_service.mark_replenishment_accepted(shop_uow(shop_url), order_id, "42")
    assert shop_service.get_replenishment(shop_uow(shop_url), order_id)["status"] == "fulfilled"
    assert not shop_service.mark_replenishment_accepted(shop_uow(shop_url), 999, "1")


def test_acceptance_records_the_factory_reference_once(shop_url):
    order_id = shop_service.purchase(shop_uow(shop_url), "Item2", 5, "a").replenishment[
        "replenishment_order_id"]
    assert shop_service.mark_replenishment_accepted(shop_uow(shop_url), order_id, "7")
    assert shop_service.mark_replenishment_accepted(shop_uow(shop_url), order_id, "8")
    order = shop_service.get_replenishment(shop_uow(shop_url), order_id)
    assert (order["status"], order["factory_reference"]) == ("accepted", "7")


@pytest.mark.parametrize("backend", ["mysql"])
def test_restocking_one_item_does_not_lock_its_factory_s_other_items(shop_url, mysql_backend):
    # Item1 and Item3 both come from Factory1. Hold Item1's restock lock open in one
    # transaction; locking Item3 in another must not wait for it.
    holder = session_factory(shop_url)()
    try:
        assert shop_service._lock_item(holder, 1) is not None
        other = session_factory(shop_url)()
        try:
            other.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
            assert shop_service._lock_item(other, 3).quantity == 3  # no lock wait timeout
        finally:
            other.close()
    finally:
        holder.close()
