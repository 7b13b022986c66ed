"""Per-request wiring for views and CLI commands: the app's database and its message broker.

Each app is one service and owns one database (`build_api(app, SHOP)` in its `register_routes`)."""
from __future__ import annotations

from flask import current_app

from api_common.app import settings_of
from inventory_core.adapters.messaging import (
    REQUEST_PATH,
    REQUEST_PATH_BUDGET_SECONDS,
    Messaging,
)
from inventory_core.service_layer.unit_of_work import UnitOfWork


def messaging() -> Messaging:
    """The broker for operators' actions (redrive, re-publish) and CLI commands."""
    extensions = current_app.extensions
    if "messaging" not in extensions:
        extensions["messaging"] = Messaging(settings_of())
    return extensions["messaging"]


def post_commit_messaging() -> Messaging:
    """The broker a request publishes its events to right after commit: a client of its own
    with short timeouts and no retry (messaging.REQUEST_PATH), so a hanging SNS costs the caller
    about a second, never an answer."""
    extensions = current_app.extensions
    if "post_commit_messaging" not in extensions:
        extensions["post_commit_messaging"] = Messaging(settings_of(), REQUEST_PATH)
    return extensions["post_commit_messaging"]


def unit_of_work() -> UnitOfWork:
    """A unit of work on the app's database; its events are published right after commit, within
    REQUEST_PATH_BUDGET_SECONDS, unless PUBLISH_AFTER_COMMIT is off. What is not published then
    (off, failed, out of time) the outbox sweep sends."""
    if not current_app.config["PUBLISH_AFTER_COMMIT"]:
        return current_app.extensions["database"].unit_of_work(settings_of())
    return current_app.extensions["database"].unit_of_work(
        settings_of(), post_commit_messaging(), REQUEST_PATH_BUDGET_SECONDS)
