"""`flask --app shop_api dead-letters list|redrive` and `replenishments list|cancel`, beside the
shared `db` and `outbox` commands."""
from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from api_common.cli import register_database_commands
from inventory_core.domain.errors import DomainError
from inventory_core.domain.replenishment import STATUSES
from inventory_core.service_layer import dead_letters, replenishments, shop_service


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

    orders = AppGroup("replenishments", help="Replenishment orders and their lifecycle.")

    @orders.command("list")
    @click.option("--status", type=click.Choice(STATUSES), default=None)
    @click.option("--limit", default=50, show_default=True)
    def list_orders(status, limit):
        """Replenishment orders, newest first."""
        from api_common.context import unit_of_work
        rows = shop_service.list_replenishments(unit_of_work(), status, limit)
        for row in rows:
            click.echo(f"#{row['replenishment_order_id']:<6} {row['status']:<10} item "
                       f"{row['item_id']:<4} qty {row['quantity']:<7} requests "
                       f"{row['request_count']} factory order {row['factory_reference'] or '-'}"
                       + (f"  ({row['end_reason']})" if row["end_reason"] else ""))
        if not rows:
            click.echo("no replenishment orders")

    @orders.command("cancel")
    @click.argument("replenishment_order_id", type=int)
    @click.option("--reason", default="cancelled by an operator", show_default=True)
    def cancel_order(replenishment_order_id, reason):
        """Cancel an open order: the item may reorder at once, the factory is asked to stop."""
        from api_common.context import unit_of_work
        try:
            row = replenishments.cancel(unit_of_work(), replenishment_order_id, reason)
        except DomainError as exc:  # not found, or it has already ended
            raise click.ClickException(str(exc)) from exc
        click.echo(f"cancelled replenishment order #{row['replenishment_order_id']} "
                   f"({row['quantity']} x item {row['item_id']}); the factory is asked to stop")

    app.cli.add_command(orders)
