"""Per-request wiring for views and CLI commands: the app's database and its message broker.

Each app is one service and owns one database (`build_app(..., database=SHOP)`)."""
from __future__ import annotations

from flask import current_app

from api_common.app import settings_of
from inventory_core.adapters.messaging import Messaging
from inventory_core.service_layer.unit_of_work import UnitOfWork


def messaging() -> Messaging:
    extensions = current_app.extensions
    if "messaging" not in extensions:
        extensions["messaging"] = Messaging(settings_of())
    return extensions["messaging"]


def unit_of_work() -> UnitOfWork:
    """A unit of work on the app's database; its events are published right after commit
    unless PUBLISH_AFTER_COMMIT is off (then the outbox sweep sends them)."""
    publisher = messaging() if current_app.config["PUBLISH_AFTER_COMMIT"] else None
    return current_app.extensions["database"].unit_of_work(settings_of(), publisher)
