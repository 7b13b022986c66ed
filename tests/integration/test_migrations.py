"""The migrations build exactly the schema the models declare, on SQLite and MariaDB: a model
changed without its migration (or a migration that drifts from its model) fails here."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from inventory_core.adapters import migrate
from inventory_core.adapters.db import get_engine
from inventory_core.adapters.models.factory import FactoryBase
from inventory_core.adapters.models.shop import ShopBase
from inventory_core.service_layer import shop_service
from tests.helpers import shop_uow


def test_the_migrated_shop_schema_is_the_models(shop_url):
    with get_engine(shop_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), ShopBase.metadata) == []


def test_the_migrated_factory_schema_is_the_models(factory_url):
    with get_engine(factory_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), FactoryBase.metadata) == []


def test_the_purchases_migration_goes_down_with_each_sale_s_stock_from_its_ledger(shop_url):
    """0008 drops purchases' foreign key and lets a sale leave `remaining` NULL; going back
    fills it from the sale's ledger row and restores the key, and up again is the models."""
    sold = shop_service.purchase(shop_uow(shop_url), 3, 1, "alice")
    config = migrate.alembic_config("shop", shop_url)
    with get_engine(shop_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    with get_engine(shop_url).connect() as connection:
        remaining = connection.execute(text("SELECT remaining FROM purchases WHERE purchase_id = "
                                            f"{sold.purchase_id}")).scalar_one()
        keys = inspect(connection).get_foreign_keys("purchases")
    assert remaining == sold.remaining
    assert [key["referred_table"] for key in keys] == ["items"]
    migrate.upgrade("shop", shop_url)
    with get_engine(shop_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), ShopBase.metadata) == []
