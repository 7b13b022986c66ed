"""The factory service's shapes and checks, without a database."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from inventory_core.adapters.models.factory import ProductionLog, ProductionOrder
from inventory_core.service_layer import factory_service, resources


class NoDatabase:
    """A session factory that fails the test if anything opens a session."""

    def __call__(self):
        raise AssertionError("the database was touched")


def test_seed_datetime_is_iso_utc_with_milliseconds_and_z():
    assert resources.seed_datetime(
        datetime(2023, 5, 18, 9, 46, 48, tzinfo=UTC)) == "2023-05-18T09:46:48.000Z"
    seoul = timezone(timedelta(hours=9))
    assert resources.seed_datetime(
        datetime(2023, 5, 18, 18, 46, 48, 123999, tzinfo=seoul)) == "2023-05-18T09:46:48.123Z"


def test_log_has_the_seed_shape_in_its_key_order():
    entry = ProductionLog(log_id=1, factory_id=1, factory_name="Factory1", item_id=1,
                          item_name="Item1", quantity=5, requester="jeonghun",
                          logged_at=datetime(2023, 5, 18, 9, 46, 48, tzinfo=UTC))
    shaped = resources.LOG.dump(entry)
    assert list(shaped) == ["log_id", "factory_id", "factory_name", "item_id", "item_name",
                            "quantity", "requester", "datetime"]
    assert shaped["datetime"] == "2023-05-18T09:46:48.000Z"


def test_production_order_dict_is_plain_data():
    assert resources.ProductionOrder().fields["status"].metadata["description"] == " | ".join(
        factory_service.STATUSES)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    order = ProductionOrder(production_order_id=3, replenishment_order_id=7, factory_id=1,
                            item_id=2, item_name="Item2", quantity=5, requester="r",
                            status="in_production", due_at=now + timedelta(seconds=10),
                            created_at=now, completed_at=None)
    assert resources.PRODUCTION_ORDER.dump(order) == {
        "production_order_id": 3, "replenishment_order_id": 7, "factory_id": 1, "item_id": 2,
        "item_name": "Item2", "quantity": 5, "requester": "r", "status": "in_production",
        "due_at": "2026-01-01T00:00:10+00:00", "created_at": "2026-01-01T00:00:00+00:00",
        "completed_at": None, "cancelled_at": None}


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, True, 2.5, "3"])
def test_a_bad_quantity_is_refused_before_any_write(quantity):
    from inventory_core.adapters.models.factory import FactoryOutbox
    from inventory_core.service_layer.unit_of_work import UnitOfWork
    uow = UnitOfWork(NoDatabase(), FactoryOutbox)
    with pytest.raises(factory_service.InvalidQuantity):
        factory_service.accept_production_order(uow, 1, 1, 1, "Item1", quantity, "r")
    with pytest.raises(factory_service.InvalidQuantity):
        factory_service.create_log(uow, 1, "Factory1", 1, "Item1", quantity, "r")
