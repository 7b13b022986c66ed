"""Only the replenishment system writes to the factory (issue 10): every write route, present or
added later, answers 401/403 and changes nothing unless the factory writer signed it (locally)
or API Gateway let the writer role's session through (on AWS). Reads stay open."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.credentials import ReadOnlyCredentials
from flask import jsonify
from sqlalchemy import func, select

from factory_api import create_app
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.factory import FactoryOutbox, ProductionLog, ProductionOrder
from inventory_core.config import Settings
from tests.signing import WRITER, SignedClient, signed_headers

ORDER = dict(replenishment_order_id=41, factory_id=2, item_id=2, item_name="Item2", quantity=5,
             requester="jeonghun")
LOG = dict(factory_id=1, factory_name="Factory1", item_id=1, item_name="Item1", quantity=3,
           requester="seed")
WRITES = {"/production-orders": ORDER, "/log": LOG, "/later-write-route": {}}
STRANGER = ReadOnlyCredentials("AKIASTRANGER0000", "stranger-secret", None)
GUESSER = ReadOnlyCredentials("testing", "a-guessed-secret", None)  # the key id is not secret
ROLE = "arn:aws:iam::123456789012:role/replenish-dev-consumers"
ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/replenish-dev-consumers/consumers-dev"
SHOP_SESSION = "arn:aws:sts::123456789012:assumed-role/replenish-dev-shop/shop-dev"


def counts(url: str) -> dict:
    with session_factory(url)() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (ProductionOrder, ProductionLog, FactoryOutbox)}


def factory(url: str, **settings):
    app = create_app({"SETTINGS": Settings(factory_database_url=url, **settings),
                      "PUBLISH_AFTER_COMMIT": False})

    # A write route added after this issue (as the lifecycle's cancel is): guarded without a word.
    @app.post("/later-write-route")
    def later_write_route():
        return jsonify(written=True), 201

    return app


@pytest.fixture
def app(factory_url):
    return factory(factory_url, **WRITER)


@pytest.mark.parametrize("route", WRITES)
def test_anonymous_writes_are_401_and_change_nothing(app, factory_url, route):
    before = counts(factory_url)
    answer = app.test_client().post(route, json=WRITES[route])
    assert answer.status_code == 401, answer.get_data()
    assert answer.headers["WWW-Authenticate"] == "AWS4-HMAC-SHA256"
    assert "Authorization header" in answer.json["message"]
    assert counts(factory_url) == before


@pytest.mark.parametrize("credentials", [STRANGER, GUESSER], ids=["another-key", "guessed-secret"])
@pytest.mark.parametrize("route", WRITES)
def test_wrongly_signed_writes_are_401_and_change_nothing(app, factory_url, route, credentials):
    before = counts(factory_url)
    answer = SignedClient(app.test_client(), credentials).post(route, json=WRITES[route])
    assert answer.status_code == 401, answer.get_data()
    assert counts(factory_url) == before


@pytest.mark.parametrize("route", WRITES)
def test_a_signed_request_with_another_body_is_401(app, factory_url, route):
    """A captured signature cannot carry another body (1000 x the quantity)."""
    before = counts(factory_url)
    body = json.dumps(WRITES[route]).encode()
    headers = signed_headers("POST", f"http://localhost{route}", body)
    forged = json.dumps({**WRITES[route], "quantity": 5000}).encode()
    answer = app.test_client().post(route, data=forged, headers=headers)
    assert answer.status_code == 401 and "does not match" in answer.json["message"]
    assert counts(factory_url) == before


def test_the_writers_own_signature_ten_minutes_old_is_refused(app, factory_url, monkeypatch):
    """A captured request of the real writer, replayed later: its date gives it away."""
    import botocore.auth

    then = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: then)
    body = json.dumps(LOG).encode()
    headers = signed_headers("POST", "http://localhost/log", body)
    before = counts(factory_url)
    answer = app.test_client().post("/log", data=body, headers=headers)
    assert answer.status_code == 401 and "away from now" in answer.json["message"]
    assert counts(factory_url) == before


@pytest.mark.parametrize("route", WRITES)
def test_the_writer_writes(app, route):
    answer = SignedClient(app.test_client()).post(route, json=WRITES[route])
    assert answer.status_code == 201, answer.get_data()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_guarded_even_where_no_route_takes_it(app, method):
    answer = app.test_client().open("/production-orders/1", method=method)
    assert answer.status_code == 401


def test_invalid_json_from_an_anonymous_caller_is_401_not_400(app):
    """Authentication comes first: nothing of an anonymous caller's body is parsed."""
    answer = app.test_client().post("/log", data="{not json", content_type="application/json")
    assert answer.status_code == 401


def test_reads_stay_open(app):
    client = app.test_client()
    for path in ("/log", "/production-orders", "/health", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_without_a_configured_writer_every_write_is_refused(factory_url):
    app = factory(factory_url)
    before = counts(factory_url)
    for route, body in WRITES.items():
        answer = SignedClient(app.test_client()).post(route, json=body)
        assert answer.status_code == 403 and "no factory writer" in answer.json["message"]
    assert counts(factory_url) == before


# --- on AWS: API Gateway verified the signature; the factory checks whose it was --------------

def through_api_gateway(app, route: str, body: dict, caller_arn: str | None):
    """The request as Zappa hands it over: environ["lambda.event"] holds API Gateway's event."""
    event = {"requestContext": {"identity": {"userArn": caller_arn, "caller": "AROAEXAMPLE"}}}
    return app.test_client().post(route, json=body, environ_base={"lambda.event": event})


@pytest.mark.parametrize("route", WRITES)
def test_on_aws_only_a_session_of_the_writer_role_writes(factory_url, route):
    app = factory(factory_url, factory_writer_role_arn=ROLE)
    before = counts(factory_url)
    for caller in (None, SHOP_SESSION, "arn:aws:iam::123456789012:user/someone"):
        answer = through_api_gateway(app, route, WRITES[route], caller)
        assert answer.status_code == 403, (caller, answer.get_data())
    # Not through API Gateway at all (no Lambda event): refused, whatever it carries.
    assert SignedClient(app.test_client()).post(route, json=WRITES[route]).status_code == 403
    assert counts(factory_url) == before
    assert through_api_gateway(app, route, WRITES[route], ROLE_SESSION).status_code == 201


def test_on_aws_a_remote_user_set_by_the_client_counts_for_nothing(factory_url):
    app = factory(factory_url, factory_writer_role_arn=ROLE)
    answer = app.test_client().post("/log", json=LOG, environ_base={"REMOTE_USER": ROLE_SESSION},
                                    headers={"X-Remote-User": ROLE_SESSION})
    assert answer.status_code == 403
