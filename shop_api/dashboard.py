"""The operations dashboard: one server-rendered page (GET /dashboard) and the JSON it polls
(GET /dashboard/state). No build step: a Jinja template, one CSS and one JS file, no CDN.

Read-only and public like GET /items; it shows no token and no connection string. The one action
on it, redriving a dead letter, calls the admin API with a bearer token the browser asks for."""
from __future__ import annotations

from flask import Blueprint, make_response, render_template

from api_common.context import unit_of_work
from inventory_core.service_layer import dashboard

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
               static_folder="static", static_url_path="/static")
REFRESH_SECONDS = 2.5
# Everything the page loads comes from this origin; no inline script can run (inline styles
# may: the stock bars' widths).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def _read_only(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("")
def page():
    state = dashboard.dashboard_state(unit_of_work())
    return _read_only(make_response(render_template(
        "dashboard.html", state=state, refresh_ms=int(REFRESH_SECONDS * 1000))))


@bp.get("/state")
def state_json():
    return _read_only(make_response(dashboard.dashboard_state(unit_of_work())))
