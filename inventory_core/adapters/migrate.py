"""Create or upgrade a database to the newest migration, and seed it when it is empty."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from inventory_core.adapters.db import get_engine, session_factory
from inventory_core.adapters.seed import seed_factory, seed_shop

MIGRATIONS = Path(__file__).parent / "migrations"
SEEDERS = {"shop": seed_shop, "factory": seed_factory}


def alembic_config(database: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS / database))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: str, url: str, revision: str = "head") -> None:
    config = alembic_config(database, url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def seed(database: str, url: str) -> bool:
    with session_factory(url).begin() as session:
        return SEEDERS[database](session)


def prepare(database: str, url: str) -> bool:
    """Upgrade, then seed if empty: what `make run` and the e2e tests do on start."""
    upgrade(database, url)
    return seed(database, url)
