"""`flask --app shop_api dead-letters list|redrive`, beside the shared `db` and `outbox`
commands."""
from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from api_common.cli import register_database_commands
from inventory_core.domain.errors import DomainError
from inventory_core.service_layer import dead_letters


def register(app: Flask) -> None:
    register_database_commands(app)

    dead = AppGroup("dead-letters", help="Messages that landed in a dead-letter queue.")

    @dead.command("list")
    @click.option("--status", type=click.Choice(dead_letters.STATUSES), default=None)
    @click.option("--limit", default=100, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
    def list_command(status, limit, as_json):
        """List dead letters, newest first."""
        from api_common.context import unit_of_work
        rows = dead_letters.list_dead_letters(unit_of_work(), status, limit)
        for row in rows:
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(f"#{row['dead_letter_id']:<5} {row['status']:<9} "
                           f"{row['source_queue']:<40} {row['event_type'] or '-':<24} "
                           f"receives={row['receive_count']} "
                           f"last_seen={row['last_seen']} "
                           f"reason={row['failure_reason'] or 'maxReceiveCount'}")
        if not rows and not as_json:
            click.echo("no dead letters")

    @dead.command("redrive")
    @click.argument("dead_letter_id", type=int, required=False)
    @click.option("--all", "redrive_everything", is_flag=True, help="Every one still dead.")
    @click.option("--source-queue", default=None, help="With --all: only this source queue.")
    def redrive_command(dead_letter_id, redrive_everything, source_queue):
        """Send a dead letter (or --all) back to its source queue."""
        from api_common.context import messaging, unit_of_work
        if (dead_letter_id is None) == (not redrive_everything):
            raise click.UsageError("give a dead letter id or --all (not both)")
        if redrive_everything:
            rows = dead_letters.redrive_all(unit_of_work(), messaging(), source_queue)
            click.echo(f"redrove {len(rows)} dead letter(s)")
            return
        try:
            row = dead_letters.redrive(unit_of_work(), messaging(), dead_letter_id)
        except DomainError as exc:  # not found, or already redriven
            raise click.ClickException(str(exc)) from exc
        click.echo(f"redrove #{row['dead_letter_id']} to {row['source_queue']}")

    app.cli.add_command(dead)
