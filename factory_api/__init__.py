"""The factory service (the seed's "legacy" factory): production logs and production orders, on
its own database. `create_app(config=None)`."""
from __future__ import annotations

from flask import Flask

from api_common import build_app
from inventory_core.databases import FACTORY


def create_app(config: dict | None = None) -> Flask:
    app, api = build_app(__name__, "Factory API", config, FACTORY)
    from factory_api import auth, cli, orders, seed_routes
    auth.guard_writes(app)  # every write, on every route: only the replenishment system
    api.document(lambda spec: spec.components.security_scheme(auth.SECURITY_SCHEME,
                                                               auth.SECURITY_SCHEME_DOC))
    app.register_blueprint(seed_routes.blp)  # the seed's routes, bare (not in OpenAPI tags)
    api.register_blueprint(orders.blp)
    cli.register(app)
    return app
