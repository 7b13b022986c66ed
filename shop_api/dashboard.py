"""The operations dashboard, for signed-in operators only: one server-rendered page
(GET /dashboard) and the JSON it polls (GET /dashboard/state). No build step: Jinja templates,
one CSS and one JS file, no CDN, and a strict content-security policy (no inline script).
The charts (stock over time, lead times) are SVG drawn on the server (shop_api/charts.py).

Sign-in (GET/POST /dashboard/login) takes the admin credential once and sets the operator
session cookie (api_common.auth); POST /dashboard/logout ends it. Without a session the page
redirects to the sign-in page and the feed answers 401. Sign-in attempts are limited per client
(inventory_core.service_layer.sign_in); a refused one is logged with the client's address and
never with what was typed.

Buttons: every state-changing button on the page is `<button data-action="<admin URL>">` and is
sent by the one client-side helper in static/dashboard.js (POST, same origin, the session's CSRF
token in X-CSRF-Token); the admin route it calls is guarded by `admin_required`, which checks the
session and that token. A new action (cancel, re-publish) needs a route and a button, nothing else.
"""
from __future__ import annotations

import logging

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from api_common import auth, settings_of
from api_common.context import unit_of_work
from api_common.headers import hardened
from inventory_core.service_layer import sign_in

# The page's charts and state (shop_api.charts, inventory_core.service_layer.dashboard and
# dashboard_charts) are imported by the views that draw them: the routes are registered on a
# container's first request (api_common.app.build_routes), which is most often a purchase.

log = logging.getLogger(__name__)

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
               static_folder="static", static_url_path="/static")
REFRESH_SECONDS = 2.5


@bp.get("")
def page() -> Response:
    session = auth.current_session()
    if session is None:
        return hardened(redirect(url_for("dashboard.sign_in_page"), 303))
    state = _state()
    # The charts are drawn once per page load (server-side SVG); the feed does not carry them.
    from inventory_core.service_layer import dashboard_charts
    from shop_api import charts
    drawn = charts.charts(dashboard_charts.chart_data(unit_of_work()))
    return hardened(make_response(render_template(
        "dashboard.html", state=state, charts=drawn, refresh_ms=int(REFRESH_SECONDS * 1000),
        csrf_token=session.csrf_token)))


@bp.get("/state")
@auth.admin_required
def state_json() -> Response:
    return hardened(make_response(_state()))


def _state() -> dict:
    from inventory_core.service_layer import dashboard
    return dashboard.dashboard_state(unit_of_work(),
                                     timeouts=settings_of().replenishment_timeouts)


# --- signing in and out ----------------------------------------------------------------------

def _sign_in_form(status: int = 200, problem: str | None = None) -> Response:
    try:
        enabled = bool(auth.admin_credential())
    except auth.CredentialUnavailable:
        enabled, problem = False, "The admin credential cannot be read right now; try again."
    return hardened(make_response(render_template(
        "sign_in.html", enabled=enabled, problem=problem), status))


@bp.get("/login")
def sign_in_page() -> Response:
    if auth.current_session() is not None:
        return hardened(redirect(url_for("dashboard.page"), 303))
    return _sign_in_form()


class SignInThrottle:
    """The shop's `auth.Throttle`: attempts counted in its database, across every process."""

    def seconds_to_wait(self, client: str) -> int:
        return sign_in.seconds_to_wait(unit_of_work(), client)

    def record(self, client: str, succeeded: bool) -> None:
        sign_in.record_attempt(unit_of_work(), client, succeeded)


@bp.post("/login")
def sign_in_submit() -> Response:
    client, limiter = auth.client_address(), SignInThrottle()
    wait = limiter.seconds_to_wait(client)
    if wait:
        log.warning("operator sign-in refused: too many attempts from %s", client)
        response = _sign_in_form(429, f"Too many attempts; try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        credential = auth.admin_credential()
    except auth.CredentialUnavailable:
        return _sign_in_form(503)
    if not credential:
        return _sign_in_form(403)
    offered = request.form.get("credential", "")
    succeeded = auth.credential_matches(offered, credential)
    limiter.record(client, succeeded)
    if not succeeded:
        # Who and when, never what was typed: a mistyped credential is a near miss of the real one.
        log.warning("operator sign-in refused: wrong credential from %s", client)
        return _sign_in_form(401, "That is not the admin credential.")
    log.info("operator signed in from %s", client)
    response = hardened(redirect(url_for("dashboard.page"), 303))
    auth.start_session(response, credential)
    return response


@bp.post("/logout")
@auth.admin_required
def sign_out() -> Response:
    response = hardened(redirect(url_for("dashboard.sign_in_page"), 303))
    auth.end_session(response)
    return response
