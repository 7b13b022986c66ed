"""`Idempotency-Key` on POST /purchases and the seed's POST /item (issue 10): the same key and
body get the first answer (status and body) and sell nothing more, also when the requests race;
the same key with another body is 422; keys live in the shop database, written in the sale's own
transaction, and are forgotten after a day. SQLite and MariaDB."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import IdempotencyKey
from inventory_core.config import Settings
from inventory_core.service_layer import shop_service
from shop_api import create_app
from tests.helpers import shop_state, shop_uow
from tests.integration.conftest import ServerThread, wait_for

BUY = {"item_id": 3, "quantity": 1, "requester": "retrying-client"}
SEED_BUY = {"item_name": "Item3", "quantity": 1, "requester": "retrying-client"}


def keyed(key: str | None = None) -> dict:
    return {"Idempotency-Key": key or str(uuid.uuid4())}


def stored_keys(url: str) -> int:
    with session_factory(url)() as session:
        return session.scalar(select(func.count()).select_from(IdempotencyKey))


@pytest.fixture
def app(shop_url):
    return create_app({"SETTINGS": Settings(shop_database_url=shop_url),
                       "PUBLISH_AFTER_COMMIT": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.mark.parametrize("path,body", [("/purchases", BUY), ("/item", SEED_BUY)])
def test_a_retry_with_the_same_key_gets_the_first_answer_and_buys_nothing(client, shop_url,
                                                                         path, body):
    key = keyed()
    first = client.post(path, json=body, headers=key)
    assert first.status_code in (200, 201) and "Idempotent-Replayed" not in first.headers
    after_first = shop_state(shop_url)
    for _ in range(3):
        again = client.post(path, json=body, headers=key)
        assert (again.status_code, again.get_data()) == (first.status_code, first.get_data())
        assert again.headers["Idempotent-Replayed"] == "true"
    assert shop_state(shop_url) == after_first
    assert after_first["stock"]["Item3"] == 2 and after_first["purchases"] == 1
    assert stored_keys(shop_url) == 1


def test_a_retried_shortage_keeps_its_first_answer_after_stock_arrives(client, shop_url):
    key = keyed()
    body = {"item_name": "Item2", "quantity": 5, "requester": "r"}
    short = client.post("/purchases", json=body, headers=key)
    assert short.status_code == 409
    shop_service.adjust_stock(shop_uow(shop_url), 2, 10, "delivery")
    again = client.post("/purchases", json=body, headers=key)
    assert (again.status_code, again.json) == (409, short.json)
    assert shop_state(shop_url)["stock"]["Item2"] == 12
    assert client.post("/purchases", json=body, headers=keyed()).status_code == 201  # a new key


@pytest.mark.parametrize("path,body,change", [
    ("/purchases", BUY, {"quantity": 2}), ("/purchases", BUY, {"requester": "someone else"}),
    ("/item", SEED_BUY, {"quantity": 2}), ("/item", SEED_BUY, {"item_name": "Item1"})])
def test_the_same_key_with_another_body_is_422_and_buys_nothing(client, shop_url, path, body,
                                                                change):
    key = keyed()
    assert client.post(path, json=body, headers=key).status_code in (200, 201)
    before = shop_state(shop_url)
    reused = client.post(path, json={**body, **change}, headers=key)
    assert reused.status_code == 422 and "different request" in reused.get_json()["message"]
    assert shop_state(shop_url) == before


def test_a_key_is_one_request_across_both_routes(client, shop_url):
    key = keyed()
    assert client.post("/item", json=SEED_BUY, headers=key).status_code == 200
    assert client.post("/purchases", json=SEED_BUY, headers=key).status_code == 422


def test_different_keys_are_different_purchases(client, shop_url):
    for _ in range(2):
        assert client.post("/purchases", json=BUY, headers=keyed()).status_code == 201
    assert shop_state(shop_url)["stock"]["Item3"] == 1


def test_the_drafts_quoted_form_is_the_same_key(client, shop_url):
    assert client.post("/purchases", json=BUY, headers=keyed("abc-1")).status_code == 201
    again = client.post("/purchases", json=BUY, headers=keyed('"abc-1"'))
    assert again.headers["Idempotent-Replayed"] == "true"
    other_case = client.post("/purchases", json=BUY, headers=keyed("ABC-1"))  # keys are exact
    assert other_case.status_code == 201 and "Idempotent-Replayed" not in other_case.headers


@pytest.mark.parametrize("key", ["", "   ", '""', "k" * 256, "tab\there", "é"])
def test_a_malformed_key_is_400_and_buys_nothing(client, shop_url, key):
    before = shop_state(shop_url)
    for path, body in (("/purchases", BUY), ("/item", SEED_BUY)):
        answer = client.post(path, json=body, headers={"Idempotency-Key": key})
        assert answer.status_code == 400 and "Idempotency-Key" in answer.get_json()["message"]
    assert shop_state(shop_url) == before and stored_keys(shop_url) == 0


def test_a_purchase_of_no_item_stores_no_key(client, shop_url):
    key = keyed()
    missing = {**BUY, "item_id": 99}
    assert client.post("/purchases", json=missing, headers=key).status_code == 404
    assert stored_keys(shop_url) == 0
    assert client.post("/purchases", json=missing, headers=key).status_code == 404


def test_the_key_is_in_the_sales_transaction(app, shop_url, monkeypatch):
    """A sale that fails after its key was claimed leaves neither the sale nor the key: the retry
    with the same key then buys."""
    real = shop_service._ensure_replenishment
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("crash mid-sale")

    monkeypatch.setattr(shop_service, "_ensure_replenishment", failing)
    key, body = keyed(), {"item_id": 1, "quantity": 1, "requester": "r"}  # sells out: reorders
    before = shop_state(shop_url)
    assert app.test_client().post("/purchases", json=body, headers=key).status_code == 500
    assert calls and shop_state(shop_url) == before and stored_keys(shop_url) == 0
    monkeypatch.setattr(shop_service, "_ensure_replenishment", real)
    assert app.test_client().post("/purchases", json=body, headers=key).status_code == 201


def test_keys_are_kept_a_day_then_forgotten(client, shop_url):
    old, fresh = keyed(), keyed()
    client.post("/purchases", json=BUY, headers=old)
    client.post("/purchases", json=BUY, headers=fresh)
    with session_factory(shop_url).begin() as session:
        session.execute(update(IdempotencyKey).where(IdempotencyKey.key_hash == min(
            session.scalars(select(IdempotencyKey.key_hash)))).values(
            created_at=utcnow() - timedelta(hours=24, minutes=1)))
    assert shop_service.forget_idempotency_keys(shop_uow(shop_url)) == 1
    assert stored_keys(shop_url) == 1
    assert shop_service.forget_idempotency_keys(shop_uow(shop_url),
                                                now=utcnow() + timedelta(hours=23)) == 0


def test_the_shops_scheduled_sweep_forgets_day_old_keys(settings, monkeypatch):
    from consumers import outbox_sweep, runtime
    from inventory_core.adapters.messaging import ensure_topology

    ensure_topology(settings)
    for name, value in {"SHOP_DATABASE_URL": settings.shop_database_url,
                        "NAME_PREFIX": settings.name_prefix,
                        "AWS_ENDPOINT_URL": settings.aws_endpoint_url}.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    with session_factory(settings.shop_database_url).begin() as session:
        for age in (timedelta(hours=25), timedelta(hours=23)):
            session.add(IdempotencyKey(key_hash=uuid.uuid4().hex * 2, request_hash="r",
                                       status_code=201, response_body="{}",
                                       created_at=utcnow() - age))
    try:
        assert outbox_sweep.shop_handler({}, None)["forgotten"] == {"idempotency_keys": 1,
                                                                    "login_attempts": 0}
    finally:
        runtime.reset()
    assert stored_keys(settings.shop_database_url) == 1


# --- the race, on MariaDB -------------------------------------------------------------------

RACERS = 8
MYSQL_ONLY = pytest.mark.parametrize("backend", ["mysql"])  # real row locks, real concurrency


def lock_waits(url: str) -> int:
    """Transactions of `url`'s database waiting for a row lock right now (InnoDB)."""
    database = make_url(url).database
    with session_factory(url)() as session:
        return session.execute(text(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "
            "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
            "WHERE t.trx_state = 'LOCK WAIT' AND p.DB = :db"), {"db": database}).scalar()


def activity(url: str) -> list[tuple]:
    """(command, state, seconds, statement, transaction state) of each connection to `url`'s
    database: why racers that should wait on a lock do not (it happened once in a full run)."""
    database = make_url(url).database
    with session_factory(url)() as session:
        return [tuple(row) for row in session.execute(text(
            "SELECT p.COMMAND, p.STATE, p.TIME, LEFT(p.INFO, 60), t.trx_state "
            "FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t "
            "ON t.trx_mysql_thread_id = p.ID WHERE p.DB = :db"), {"db": database})]


@pytest.fixture
def overlapping(shop_url, monkeypatch):
    """Make the race certain: the sale that claimed the key starts selling only once every other
    racer is waiting on a lock in the database (on the key, where the claim makes them wait)."""
    real_sell = shop_service._sell

    def sell_when_all_wait(*args):
        try:
            wait_for(lambda: lock_waits(shop_url) >= RACERS - 1, timeout=30,
                     message=f"{RACERS - 1} racers waiting on a lock")
        except pytest.fail.Exception:  # say what the racers were doing instead
            pytest.fail(f"{RACERS - 1} racers not all waiting on a lock after 30 s; the "
                        f"database's connections: {activity(shop_url)}")
        return real_sell(*args)

    monkeypatch.setattr(shop_service, "_sell", sell_when_all_wait)


def race(post) -> list:
    barrier = threading.Barrier(RACERS)

    def one(_):
        barrier.wait()
        return post()

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


@MYSQL_ONLY
@pytest.mark.parametrize("path,body", [("/purchases", BUY), ("/item", SEED_BUY)])
def test_racing_requests_with_one_key_sell_once(mysql_backend, app, shop_url, overlapping,
                                                path, body):
    """Eight copies of one keyed purchase at once over HTTP (a threaded server): one sale, and
    every answer is its answer. (A check-then-sell version answers 500s or sells again.)"""
    server = ServerThread(app).start()
    try:
        key = keyed()
        answers = race(lambda: requests.post(f"{server.url}{path}", json=body, headers=key,
                                             timeout=60))
    finally:
        server.stop()
    assert {(a.status_code, a.content) for a in answers} == {
        (answers[0].status_code, answers[0].content)}
    assert answers[0].status_code in (200, 201)
    assert sum(a.headers.get("Idempotent-Replayed") != "true" for a in answers) == 1
    state = shop_state(shop_url)
    assert state["stock"]["Item3"] == 2 and state["purchases"] == 1 and state["ledger"] == 4
    assert stored_keys(shop_url) == 1


@MYSQL_ONLY
def test_racing_service_calls_with_one_key_sell_once(mysql_backend, shop_url, overlapping):
    request = shop_service.KeyedRequest(str(uuid.uuid4()), "fingerprint")
    answers = race(lambda: shop_service.purchase_once(
        shop_uow(shop_url), request, lambda r: (201, {"purchase_id": r.purchase_id}),
        "Item3", 1, "racer"))
    assert len({a.body["purchase_id"] for a in answers}) == 1
    assert sorted(a.replayed for a in answers) == [False] + [True] * (RACERS - 1)
    assert shop_state(shop_url)["purchases"] == 1
