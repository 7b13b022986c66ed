"""Build a Flask app the same way for both services."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider

from api_common.errors import register_error_handlers
from inventory_core import correlation
from inventory_core.config import ENV_VARS, Settings

if TYPE_CHECKING:
    from api_common.docs import Api
    from inventory_core.databases import Database

OPENAPI_DEFAULTS = {
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",  # /docs is api_common.swagger_ui: no CDN
    "MAX_CONTENT_LENGTH": 64 * 1024,  # a purchase is a few dozen bytes; refuse floods early
    "JSON_AS_ASCII": False,
    "PUBLISH_AFTER_COMMIT": True,  # hand events to SNS right after commit (the sweep retries)
}


def build_app(import_name: str, title: str, config: dict | None,
              register_routes: Callable[[Flask], None], routes_on_first_request: bool) -> Flask:
    """An app whose settings come from the environment, overridden by `config` (tests pass
    e.g. {"SHOP_DATABASE_URL": ...} or a whole {"SETTINGS": Settings(...)}), and the service's
    routes: `register_routes(app)` (which calls `build_api`), now or on the first request
    (build_routes)."""
    app = Flask(import_name)
    json_provider = cast(DefaultJSONProvider, app.json)  # Flask's default provider class
    json_provider.ensure_ascii = False  # the seed answers in Korean; keep it readable
    json_provider.sort_keys = False  # and lists item fields in its own order
    app.config.from_mapping(OPENAPI_DEFAULTS, API_TITLE=title)
    app.config.from_prefixed_env("FLASK")
    if config:
        app.config.update(config)
    if "SETTINGS" not in app.config:
        overrides = {k: str(app.config[k]) for k in ENV_VARS if k in app.config}
        app.config["SETTINGS"] = Settings.from_env({**os.environ, **overrides})
    carry_correlation_id(app)
    build_routes(app, register_routes, routes_on_first_request)
    return app


def build_api(app: Flask, database: Database) -> Api:
    """The app's database and its OpenAPI set-up (flask-smorest, marshmallow: what the routes
    are written with), and the `/docs` page."""
    from inventory_core.domain.marshmallow_import import import_marshmallow
    import_marshmallow()  # before marshmallow's first import: its e-mail patterns compiled on use
    from api_common import docs, swagger_ui
    from api_common.validation import RowId

    app.extensions["database"] = database
    app.url_map.converters["id"] = RowId
    api = docs.Api(app)
    api.register_converter(RowId, RowId.openapi_schema)
    register_error_handlers(app)  # after flask-smorest's, which ours replace
    app.register_blueprint(swagger_ui.bp)  # not in OpenAPI: a page about it
    return api


def build_routes(app: Flask, register_routes: Callable[[Flask], None],
                 on_first_request: bool) -> None:
    """`register_routes(app)` now, or just before the app routes its first request.

    On first request: for the deployed entry points (wsgi.py), whose cold start would otherwise
    import every view and what it uses (flask-smorest, marshmallow, the ORM and the models, the
    service layer: about half of a start) before the container is handed a request. The work
    is the same, done once the request is there; `python -X importtime -c 'import shop_api.wsgi'`
    shows what is left. Routes are all registered at once, under a lock, before any request is
    routed: Werkzeug's URL map is never changed while a request is matched against it."""
    if not on_first_request:
        register_routes(app)
        return
    app.wsgi_app = RoutesOnFirstRequest(app.wsgi_app,  # type: ignore[method-assign]
                                        lambda: register_routes(app))


class RoutesOnFirstRequest:
    """WSGI middleware: runs `register` once, before the first request reaches the app (whose
    set-up methods, e.g. register_blueprint, are allowed until it has handled one)."""

    def __init__(self, wsgi_app: Callable[..., Any], register: Callable[[], None]) -> None:
        self.wsgi_app = wsgi_app
        self._register: Callable[[], None] | None = register
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        if self._register is not None:
            with self._lock:  # concurrent first requests wait for the one that registers
                if self._register is not None:
                    self._register()  # on an error, the next request tries again
                    self._register = None
        return self.wsgi_app(environ, start_response)


def carry_correlation_id(app: Flask) -> None:
    """Each request belongs to the flow its `X-Correlation-Id` names, or to a new one: its log
    lines and the events it emits carry the id, and the answer echoes it. An id that is too long
    or holds other characters than [A-Za-z0-9._:-] is replaced, never echoed."""
    @app.before_request
    def bind_correlation_id() -> None:
        g.correlation_token = correlation.bind(
            correlation.accept(request.headers.get(correlation.HEADER)))

    @app.after_request
    def echo_correlation_id(response: Response) -> Response:
        if correlation.current():
            response.headers[correlation.HEADER] = correlation.current()
        return response

    @app.teardown_request
    def unbind_correlation_id(_exc: BaseException | None) -> None:
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation.unbind(token)


def settings_of(app: Flask | None = None) -> Settings:
    return (app or current_app).config["SETTINGS"]
