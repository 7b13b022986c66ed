"""Operator surfaces behind a login (issue 15), route by route as an anonymous caller, with a
wrong credential, and as an operator: the dashboard, its state feed, the sign-in and sign-out,
the admin API and its buttons (session + CSRF), and personal data in the public lists."""
from __future__ import annotations

import logging
import re
from http.cookies import SimpleCookie

import pytest

from api_common import auth
from inventory_core.config import Settings
from inventory_core.service_layer.dead_letters import record_dead_letter
from shop_api import create_app
from tests.helpers import shop_state, shop_uow, sign_in

CREDENTIAL = "operator-credential-0123456789"
BEARER = {"Authorization": f"Bearer {CREDENTIAL}"}
WRONG_BEARER = {"Authorization": "Bearer not-the-credential"}


@pytest.fixture
def app(shop_url):
    return create_app({"SETTINGS": Settings(shop_database_url=shop_url, admin_token=CREDENTIAL),
                       "PUBLISH_AFTER_COMMIT": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def operator(app):
    """A test client signed in as an operator, and its CSRF token."""
    client = app.test_client()
    return client, sign_in(client, CREDENTIAL)


@pytest.fixture
def dead_letter(shop_url) -> int:
    return record_dead_letter(shop_uow(shop_url), "t-order-queue-dlq", "m-1", "{not json", {},
                              3).dead_letter_id


def set_cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookie.load(header)
    return cookie


# --- the dashboard page and its feed -----------------------------------------------------------

def test_anonymous_callers_are_sent_to_sign_in_and_read_nothing(client, shop_url):
    page = client.get("/dashboard")
    assert page.status_code == 303 and page.headers["Location"].endswith("/dashboard/login")
    assert b"Item1" not in page.data
    feed = client.get("/dashboard/state")
    assert feed.status_code == 401 and set(feed.json) == {"code", "status", "message"}
    assert "Item1" not in feed.get_data(as_text=True)


def test_a_wrong_bearer_token_reads_nothing(client):
    assert client.get("/dashboard/state", headers=WRONG_BEARER).status_code == 401
    assert client.get("/dashboard", headers=WRONG_BEARER).status_code == 303


@pytest.mark.parametrize("cookie", ["forged", "e30.ZZZZZZ.aaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                    "eyJjc3JmIjoieCJ9.Z0Z0Z0.AAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_a_forged_session_cookie_reads_nothing(client, cookie):
    client.set_cookie(auth.SESSION_COOKIE, cookie)
    assert client.get("/dashboard").status_code == 303
    assert client.get("/dashboard/state").status_code == 401


def test_an_operator_session_reads_the_page_and_the_feed(operator):
    client, csrf = operator
    page = client.get("/dashboard")
    assert page.status_code == 200 and b'data-item="Item1"' in page.data
    assert f'<meta name="csrf-token" content="{csrf}">'.encode() in page.data
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert page.headers["Cache-Control"] == "no-store"
    feed = client.get("/dashboard/state")
    assert feed.status_code == 200 and feed.json["summary"]["items"] == 3
    assert CREDENTIAL not in page.get_data(as_text=True) + feed.get_data(as_text=True)


def test_the_bearer_token_reads_the_feed_too(client):
    assert client.get("/dashboard/state", headers=BEARER).status_code == 200


# --- signing in and out --------------------------------------------------------------------------

def test_the_sign_in_page_is_a_plain_form_under_the_same_csp(client):
    page = client.get("/dashboard/login")
    assert page.status_code == 200 and b'type="password"' in page.data
    assert b"<script" not in page.data
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]


def test_a_wrong_credential_is_refused_logged_without_it_and_sets_no_cookie(client, caplog):
    caplog.set_level(logging.INFO)
    answer = client.post("/dashboard/login", data={"credential": "guess-" + CREDENTIAL[:10]})
    assert answer.status_code == 401 and b"not the admin credential" in answer.data
    assert not answer.headers.getlist("Set-Cookie")
    assert client.get("/dashboard/state").status_code == 401
    refused = [r.getMessage() for r in caplog.records if "sign-in refused" in r.getMessage()]
    assert refused == ["operator sign-in refused: wrong credential from 127.0.0.1"]
    assert not any("guess-" in r.getMessage() or CREDENTIAL[:10] in r.getMessage()
                   for r in caplog.records)


def test_the_session_cookie_is_httponly_strict_and_expiring(client):
    answer = client.post("/dashboard/login", data={"credential": CREDENTIAL})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/dashboard")
    morsel = set_cookie(answer)[auth.SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert int(morsel["max-age"]) == auth.SESSION_SECONDS
    assert not morsel["secure"]  # localhost: plain HTTP must work for `make run`
    assert CREDENTIAL not in morsel.value


def test_the_session_cookie_is_secure_anywhere_but_localhost(app):
    client = app.test_client()
    answer = client.post("/dashboard/login", data={"credential": CREDENTIAL},
                         base_url="https://shop.example.com")
    assert set_cookie(answer)[auth.SESSION_COOKIE]["secure"]


def test_an_expired_session_reads_nothing(operator, monkeypatch):
    client, _ = operator
    monkeypatch.setattr(auth, "SESSION_SECONDS", -1)  # as if the 8 hours were over
    assert client.get("/dashboard/state").status_code == 401
    assert client.get("/dashboard").status_code == 303


def test_sign_in_attempts_are_limited_per_client(app, caplog):
    client = app.test_client()
    for _ in range(10):
        assert client.post("/dashboard/login", data={"credential": "wrong"}).status_code == 401
    limited = client.post("/dashboard/login", data={"credential": CREDENTIAL})
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert not limited.headers.getlist("Set-Cookie")
    # Another client is not held back by this one's attempts.
    other = app.test_client()
    assert other.post("/dashboard/login", data={"credential": CREDENTIAL},
                      environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 303


def test_wrong_bearer_tokens_count_against_the_same_limit(client):
    for _ in range(10):
        assert client.get("/admin/dead-letters", headers=WRONG_BEARER).status_code == 401
    assert client.get("/admin/dead-letters", headers=BEARER).status_code == 429
    assert client.post("/dashboard/login", data={"credential": CREDENTIAL}).status_code == 429


def test_on_lambda_the_limit_counts_the_address_api_gateway_saw(app):
    """Zappa takes REMOTE_ADDR from X-Forwarded-For, which a client writes: a guesser changing it
    on every request is still one client."""
    client = app.test_client()
    event = {"requestContext": {"identity": {"sourceIp": "198.51.100.9"}}}
    for n in range(10):
        client.post("/dashboard/login", data={"credential": "wrong"},
                    environ_base={"lambda.event": event, "REMOTE_ADDR": f"10.0.0.{n}"})
    answer = client.post("/dashboard/login", data={"credential": CREDENTIAL},
                         environ_base={"lambda.event": event, "REMOTE_ADDR": "10.0.0.99"})
    assert answer.status_code == 429


def test_sign_out_needs_the_csrf_token_and_ends_the_session(operator):
    client, csrf = operator
    assert client.post("/dashboard/logout").status_code == 403
    answer = client.post("/dashboard/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/dashboard/login")
    assert set_cookie(answer)[auth.SESSION_COOKIE]["expires"]  # the browser drops it
    assert client.get("/dashboard/state").status_code == 401


def test_a_form_posted_under_no_referrer_says_origin_null_and_is_judged_by_its_token(operator):
    """Browsers send `Origin: null` for a form posted from a page with Referrer-Policy
    no-referrer (the dashboard's): the CSRF token decides."""
    client, csrf = operator
    assert client.post("/dashboard/logout", data={"csrf_token": "wrong"},
                       headers={"Origin": "null"}).status_code == 403
    assert client.post("/dashboard/logout", data={"csrf_token": csrf},
                       headers={"Origin": "null"}).status_code == 303


def test_anonymous_sign_out_is_401(client):
    assert client.post("/dashboard/logout").status_code == 401


def test_a_signed_in_operator_goes_straight_to_the_dashboard(operator):
    client, _ = operator
    assert client.get("/dashboard/login").status_code == 303


def test_without_a_credential_sign_in_is_off(shop_url):
    app = create_app({"SETTINGS": Settings(shop_database_url=shop_url),
                      "PUBLISH_AFTER_COMMIT": False})
    client = app.test_client()
    assert b"Sign-in is disabled" in client.get("/dashboard/login").data
    assert client.post("/dashboard/login", data={"credential": ""}).status_code == 403
    assert client.get("/dashboard/state", headers={"Authorization": "Bearer "}).status_code == 403


def test_rotating_the_credential_signs_every_operator_out(app, operator):
    client, _ = operator
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = settings.but(admin_token="the-rotated-credential")
    assert client.get("/dashboard/state").status_code == 401
    assert client.get("/dashboard/state", headers=BEARER).status_code == 401
    assert sign_in(client, "the-rotated-credential")


# --- the admin API and the dashboard's buttons ---------------------------------------------------

@pytest.mark.parametrize("headers", [{}, WRONG_BEARER], ids=["anonymous", "wrong-credential"])
def test_admin_routes_refuse_callers_who_are_not_operators(client, shop_url, dead_letter,
                                                           headers):
    before = shop_state(shop_url)
    for method, path, body in [
            ("GET", "/admin/dead-letters", None),
            ("GET", f"/admin/dead-letters/{dead_letter}", None),
            ("POST", f"/admin/dead-letters/{dead_letter}/redrive", None),
            ("POST", "/admin/dead-letters/redrive", None),
            ("POST", "/admin/items/1/stock-adjustments", {"delta": 5, "reason": "count"})]:
        answer = client.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert shop_state(shop_url) == before


def test_an_operator_session_reads_the_admin_api(operator, dead_letter):
    client, _ = operator
    assert client.get("/admin/dead-letters").json[0]["dead_letter_id"] == dead_letter


@pytest.mark.parametrize("headers", [
    {}, {"X-CSRF-Token": "not-the-token"}, {"X-CSRF-Token": ""}],
    ids=["no-token", "wrong-token", "empty-token"])
def test_a_session_without_its_csrf_token_changes_nothing(operator, shop_url, headers):
    client, _ = operator
    before = shop_state(shop_url)
    answer = client.post("/admin/items/1/stock-adjustments", json={"delta": 5, "reason": "x"},
                         headers=headers)
    assert answer.status_code == 403 and "CSRF" in answer.json["message"]
    assert shop_state(shop_url) == before


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}])
def test_a_cross_site_request_changes_nothing_even_with_the_token(operator, shop_url, headers):
    client, csrf = operator
    before = shop_state(shop_url)
    answer = client.post("/admin/items/1/stock-adjustments", json={"delta": 5, "reason": "x"},
                         headers={"X-CSRF-Token": csrf, **headers})
    assert answer.status_code == 403
    assert shop_state(shop_url) == before


def test_a_button_with_the_session_and_its_token_acts(settings, shop_url):
    """As the dashboard's helper sends it: same origin, the session cookie, X-CSRF-Token. The
    redrive really reaches the queue (moto)."""
    from inventory_core.adapters.messaging import Messaging, ensure_topology

    urls = ensure_topology(settings)
    dead = record_dead_letter(shop_uow(shop_url), f"{settings.name_prefix}-order-queue-dlq",
                              "m-2", "{not json", {}, 3).dead_letter_id
    client = create_app({"SETTINGS": settings.but(admin_token=CREDENTIAL)}).test_client()
    csrf = sign_in(client, CREDENTIAL)
    same_origin = {"X-CSRF-Token": csrf, "Origin": "http://localhost",
                   "Sec-Fetch-Site": "same-origin"}
    redriven = client.post(f"/admin/dead-letters/{dead}/redrive", headers=same_origin)
    assert redriven.status_code == 200 and redriven.json["status"] == "redriven"
    [message] = Messaging(settings).receive(urls["order"], wait_seconds=1)
    assert message["Body"] == "{not json"
    adjusted = client.post("/admin/items/1/stock-adjustments", json={"delta": 5, "reason": "x"},
                           headers=same_origin)
    assert adjusted.status_code == 200 and shop_state(shop_url)["stock"]["Item1"] == 6


def test_the_bearer_token_needs_no_csrf_token(client, shop_url):
    answer = client.post("/admin/items/1/stock-adjustments", json={"delta": 5, "reason": "x"},
                         headers=BEARER)
    assert answer.status_code == 200


def test_the_page_renders_buttons_for_the_one_client_side_helper(operator, dead_letter):
    client, _ = operator
    page = client.get("/dashboard").get_data(as_text=True)
    button = re.search(r'<button type="button" class="action" data-action="([^"]+)"', page)
    assert button and button.group(1) == f"/admin/dead-letters/{dead_letter}/redrive"
    script = client.get("/dashboard/static/dashboard.js").get_data(as_text=True)
    assert "X-CSRF-Token" in script and "prompt(" not in script and "sessionStorage" not in script


# --- personal data in public lists ---------------------------------------------------------------

def short_purchase(client):
    return client.post("/purchases", json={"item_name": "Item2", "quantity": 5,
                                           "requester": "jeonghun"})


@pytest.mark.parametrize("headers", [{}, WRONG_BEARER], ids=["anonymous", "wrong-credential"])
def test_public_lists_show_no_requester_names(client, headers):
    shortage = short_purchase(client)
    assert shortage.json["replenishment_order"]["requester"] == "j***"
    order_id = shortage.json["replenishment_order"]["replenishment_order_id"]
    listed = client.get("/replenishment-orders", headers=headers).json
    one = client.get(f"/replenishment-orders/{order_id}", headers=headers).json
    assert [o["requester"] for o in listed] == ["j***"] and one["requester"] == "j***"
    assert "jeonghun" not in client.get("/replenishment-orders", headers=headers).get_data(
        as_text=True)


def test_operators_see_requesters_in_full(client, operator):
    order_id = short_purchase(client).json["replenishment_order"]["replenishment_order_id"]
    signed_in, _ = operator
    for reader, headers in ((client, BEARER), (signed_in, {})):
        listed = reader.get("/replenishment-orders", headers=headers).json
        assert listed[0]["requester"] == "jeonghun"
        assert reader.get(f"/replenishment-orders/{order_id}",
                          headers=headers).json["requester"] == "jeonghun"
