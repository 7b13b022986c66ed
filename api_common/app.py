"""Build a Flask app the same way for both services."""
from __future__ import annotations

import os
from typing import cast

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider

from api_common import swagger_ui
from api_common.docs import Api
from api_common.errors import register_error_handlers
from api_common.validation import RowId
from inventory_core import correlation
from inventory_core.config import ENV_VARS, Settings
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
              database: Database) -> tuple[Flask, Api]:
    """An app whose settings come from the environment, overridden by `config` (tests pass
    e.g. {"SHOP_DATABASE_URL": ...} or a whole {"SETTINGS": Settings(...)})."""
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
    app.extensions["database"] = database
    app.url_map.converters["id"] = RowId
    api = Api(app)
    api.register_converter(RowId, RowId.openapi_schema)
    carry_correlation_id(app)
    register_error_handlers(app)
    app.register_blueprint(swagger_ui.bp)  # not in OpenAPI: a page about it
    return app, api


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
