"""`/docs`: Swagger UI for the app's OpenAPI document, served by the app itself from the pinned
`swagger-ui-bundle` package (requirements/runtime.txt). No CDN: it works with no internet, and
under the same content-security policy as the dashboard (api_common.headers: everything from
this origin, no inline script; the page's one script is static/docs.js)."""
from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from api_common.headers import hardened

bp = Blueprint("docs", __name__, url_prefix="/docs", template_folder="templates",
               static_folder="static", static_url_path="/static")
# What the page loads from the package (the rest of it, source maps and other builds, is left
# out of the Lambda package: deploy/settings.py EXCLUDE).
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
ASSET_MAX_AGE = 24 * 3600  # a package version's files never change; a new one is a deploy


@bp.get("")
def page() -> Response:
    from flask import current_app
    return hardened(make_response(render_template(
        "docs.html", title=current_app.config["API_TITLE"],
        spec_url=url_for("api-docs.openapi_json"))))


@bp.get("/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    response = send_from_directory(swagger_ui_path, name, max_age=ASSET_MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
