"""What both Alembic environments do; each env.py names only its database's metadata."""
from typing import Any

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run_migrations(target_metadata: MetaData) -> None:
    config = context.config
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    options: dict[str, Any] = {"target_metadata": target_metadata, "render_as_batch": True}
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                          **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")  # given by inventory_core.adapters.migrate
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("alembic.ini names no sqlalchemy.url and no connection was given")
        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection, options)
    else:
        _run(connection, options)


def _run(connection, options) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
