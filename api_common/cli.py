"""`flask --app <service> db upgrade|seed` and `flask --app <service> outbox relay`, for the
database the app owns."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from api_common.app import settings_of


def register_database_commands(app: Flask) -> None:
    name = app.extensions["database"].name

    def url() -> str:
        return current_app.extensions["database"].url(settings_of())

    db = AppGroup("db", help=f"The {name} database.")

    # inventory_core.adapters.migrate imports Alembic: only when a command runs, never on a Lambda
    # cold start.
    @db.command("upgrade")
    def upgrade():
        """Create or migrate the schema to the newest revision."""
        from inventory_core.adapters import migrate
        migrate.upgrade(name, url())
        click.echo(f"{name} database is up to date")

    @db.command("seed")
    def seed():
        """Insert the seed's sample data into an empty database."""
        from inventory_core.adapters import migrate
        click.echo("seeded" if migrate.seed(name, url()) else "not empty: nothing inserted")

    outbox_group = AppGroup("outbox", help=f"The {name} service's transactional outbox.")

    @outbox_group.command("relay")
    @click.option("--limit", default=100, show_default=True, help="Rows per pass.")
    def relay(limit: int):
        """Publish every unpublished outbox row now (one sweep)."""
        from api_common.context import unit_of_work
        from consumers.outbox_sweep import sweep
        from inventory_core.adapters.messaging import SWEEP, Messaging
        totals = sweep(unit_of_work(), limit=limit, publisher=Messaging(settings_of(), SWEEP))
        click.echo(f"published {totals['published']}, failed {totals['failed']}")
        if totals["failed"]:
            raise SystemExit(1)

    app.cli.add_command(db)
    app.cli.add_command(outbox_group)
