"""The factory service (the seed's "legacy" factory): production logs and production orders, on
its own database. `create_app(config=None)`."""
from __future__ import annotations

from flask import Flask

from api_common.app import build_api, build_app


def create_app(config: dict | None = None, *, routes_on_first_request: bool = False) -> Flask:
    """`routes_on_first_request`: for factory_api.wsgi (api_common.app.build_routes)."""
    return build_app(__name__, "Factory API", config, register_routes, routes_on_first_request)


def register_routes(app: Flask) -> None:
    from inventory_core.databases import FACTORY
    api = build_api(app, FACTORY)  # before the views: it imports marshmallow the cheaper way
    from factory_api import auth, cli, orders, seed_routes
    auth.guard_writes(app)  # every write, on every route: only the replenishment system
    api.document(lambda spec: spec.components.security_scheme(auth.SECURITY_SCHEME,
                                                               auth.SECURITY_SCHEME_DOC))
    app.register_blueprint(seed_routes.blp)  # the seed's routes, bare (not in OpenAPI tags)
    api.register_blueprint(orders.blp)
    cli.register(app)
