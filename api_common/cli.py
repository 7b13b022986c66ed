"""`flask --app <service> db upgrade|seed` and
`flask --app <service> outbox relay|parked|republish`, for the database the app owns."""
from __future__ import annotations

import json

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

    @outbox_group.command("parked")
    @click.option("--limit", default=100, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
    def parked(limit: int, as_json: bool):
        """List the events the relays gave up on (parked), oldest first."""
        from api_common.context import unit_of_work
        from inventory_core.service_layer import parked_events
        rows = parked_events.list_parked(unit_of_work(), limit)
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False) if as_json else
                       f"#{row['outbox_id']:<6} {row['event_type']:<24} {row['destination']:<24} "
                       f"attempts={row['attempts']} parked_at={row['parked_at']} "
                       f"last_error={row['last_error']}")
        if not rows and not as_json:
            click.echo("no parked events")

    @outbox_group.command("republish")
    @click.argument("outbox_id", type=int, required=False)
    @click.option("--all", "everything", is_flag=True, help="Every parked event.")
    def republish(outbox_id: int | None, everything: bool):
        """Publish a parked event (or --all) now, with a fresh set of attempts."""
        from api_common.context import messaging, unit_of_work
        from inventory_core.domain.errors import DomainError
        from inventory_core.service_layer import parked_events
        if (outbox_id is None) == (not everything):
            raise click.UsageError("give an outbox id or --all (not both)")
        if outbox_id is None:
            result = parked_events.republish_all(unit_of_work(), messaging())
            click.echo(f"re-published {result['republished']}: {result['published']} published, "
                       f"{result['republished'] - result['published']} back with the sweep")
            return
        try:
            row = parked_events.republish(unit_of_work(), messaging(), outbox_id)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"#{row['outbox_id']} " + ("published" if row["published_at"] else
                                              f"failed again, back with the sweep: "
                                              f"{row['last_error']}"))

    app.cli.add_command(db)
    app.cli.add_command(outbox_group)
