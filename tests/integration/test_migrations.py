"""The migrations build exactly the schema the models declare, on SQLite and MariaDB: a model
changed without its migration (or a migration that drifts from its model) fails here."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from inventory_core.adapters.db import get_engine
from inventory_core.adapters.models.factory import FactoryBase
from inventory_core.adapters.models.shop import ShopBase


def test_the_migrated_shop_schema_is_the_models(shop_url):
    with get_engine(shop_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), ShopBase.metadata) == []


def test_the_migrated_factory_schema_is_the_models(factory_url):
    with get_engine(factory_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), FactoryBase.metadata) == []
