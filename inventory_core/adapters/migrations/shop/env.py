"""Alembic environment of the shop database. The URL comes from the Config (see migrate.py)."""
from inventory_core.adapters.migrations.environment import run_migrations
from inventory_core.adapters.models.shop import ShopBase

run_migrations(ShopBase.metadata)
