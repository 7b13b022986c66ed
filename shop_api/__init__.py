"""The shop service: items, purchases, replenishment orders, admin. `create_app(config=None)`."""
from __future__ import annotations

from flask import Flask

from api_common import build_app
from inventory_core.databases import SHOP


def create_app(config: dict | None = None) -> Flask:
    app, api = build_app(__name__, "Shop API", config, SHOP)
    api.document(lambda spec: spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer"}))
    from shop_api import admin, cli, dashboard, items, seed_routes
    app.register_blueprint(seed_routes.blp)  # the seed's routes, bare (not in OpenAPI tags)
    api.register_blueprint(items.blp)
    api.register_blueprint(admin.blp)
    app.register_blueprint(dashboard.bp)  # the operations page (HTML), not in OpenAPI
    app.extensions["operator_throttle"] = dashboard.SignInThrottle()  # wrong credentials, limited
    cli.register(app)
    return app
