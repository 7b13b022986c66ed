"""Alembic environment of the factory database. The URL comes from the Config (see migrate.py)."""
from inventory_core.adapters.migrations.environment import run_migrations
from inventory_core.adapters.models.factory import FactoryBase

run_migrations(FactoryBase.metadata)
