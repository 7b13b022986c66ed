"""Set up what the local stack's parts need before they start (run by the supervisor as `[setup]`):

- on moto: every topic, queue, DLQ, redrive policy and raw subscription of the topology, with the
  local visibility timeout, and the SES identity the notifier sends from;
- the two databases: created on a MySQL server if missing, migrated to the newest revision, and
  seeded with the seed's sample data when empty.

`python -m local_stack.bootstrap [--messaging-only]`; exit status 0 when everything is ready.
The supervisor runs `--messaging-only` again when moto restarts (moto keeps its state in memory).
"""
from __future__ import annotations

import argparse
import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from inventory_core.adapters.messaging import ensure_ses_sender, ensure_topology
from inventory_core.adapters.migrate import prepare
from inventory_core.config import Settings
from inventory_core.topology import TOPOLOGY
from local_stack.stack_config import redact, visibility_timeout


def say(message: str) -> None:
    print(message, flush=True)


def ensure_mysql_database(url: str) -> None:
    """`CREATE DATABASE IF NOT EXISTS` the URL's database on its MySQL server."""
    parsed = make_url(url)
    if not parsed.get_backend_name().startswith("mysql") or not parsed.database:
        return
    name = parsed.database
    if "`" in name:
        raise SystemExit(f"database name {name!r} must not contain a backquote")
    server_url = parsed._replace(database=None)  # URL.set(database=None) would keep the name
    server = create_engine(server_url, connect_args={"connect_timeout": 5})
    try:
        with server.begin() as connection:
            created = connection.execute(
                text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n"),
                {"n": name}).scalar() == 0
            connection.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    finally:
        server.dispose()
    if created:
        say(f"created database {name} on {server_url.render_as_string(hide_password=True)}")


def setup_messaging(settings: Settings, visibility_timeout: int) -> None:
    started = time.monotonic()
    urls = ensure_topology(settings, visibility_timeout=visibility_timeout)
    ensure_ses_sender(settings)
    say(f"topology on moto: {len(TOPOLOGY.topics)} topics, {len(urls)} queues + "
        f"{len(urls)} DLQs (visibility timeout {visibility_timeout}s), "
        f"SES identity {settings.ses_sender} ({time.monotonic() - started:.1f}s)")


def setup_database(database: str, url: str) -> None:
    started = time.monotonic()
    try:
        ensure_mysql_database(url)
        seeded = prepare(database, url)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a driver's traceback
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise SystemExit(f"cannot prepare the {database} database at {redact(url)}: "
                         f"{exc.__class__.__name__}: {detail}") from None
    say(f"{database} database {redact(url)}: migrated"
        f"{', seeded with the sample data' if seeded else ' (data kept)'} "
        f"({time.monotonic() - started:.1f}s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.bootstrap")
    parser.add_argument("--messaging-only", action="store_true",
                        help="only (re)create the topology and SES identity on moto")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    visibility = visibility_timeout()
    try:
        setup_messaging(settings, visibility)
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"cannot create the topology on {settings.aws_endpoint_url}: "
                         f"{exc.__class__.__name__}: {exc}") from None
    if not args.messaging_only:
        setup_database("shop", settings.shop_database_url)
        setup_database("factory", settings.factory_database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
