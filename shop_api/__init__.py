"""The shop service: items, purchases, replenishment orders, admin. `create_app(config=None)`."""
from __future__ import annotations

from flask import Flask

from api_common.app import build_api, build_app


def create_app(config: dict | None = None, *, routes_on_first_request: bool = False) -> Flask:
    """`routes_on_first_request`: for shop_api.wsgi (api_common.app.build_routes)."""
    return build_app(__name__, "Shop API", config, register_routes, routes_on_first_request)


def register_routes(app: Flask) -> None:
    from inventory_core.databases import SHOP
    api = build_api(app, SHOP)  # before the views: it imports marshmallow the cheaper way
    from shop_api import admin, cli, dashboard, items, seed_routes
    api.document(lambda spec: spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer"}))
    app.register_blueprint(seed_routes.blp)  # the seed's routes, bare (not in OpenAPI tags)
    api.register_blueprint(items.blp)
    api.register_blueprint(admin.blp)
    app.register_blueprint(dashboard.bp)  # the operations page (HTML), not in OpenAPI
    app.extensions["operator_throttle"] = dashboard.SignInThrottle()  # wrong credentials, limited
    cli.register(app)
