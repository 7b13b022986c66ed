"""A hand-made list of hostile request bodies against every route that writes: each gets a 4xx
JSON answer (never a 5xx, never a success) and changes nothing in either database."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.factory import FactoryOutbox, ProductionLog, ProductionOrder
from inventory_core.adapters.models.shop import Purchase, ReplenishmentOrder
from inventory_core.service_layer import shop_service
from tests.helpers import shop_state, shop_uow
from tests.signing import SignedClient

DEEP = 10_000  # levels of JSON nesting

VALID = {
    "/item": {"item_name": "Item1", "quantity": 1, "requester": "fuzz"},
    "/purchases": {"item_id": 3, "quantity": 1, "requester": "fuzz"},
    "/production-orders": {"replenishment_order_id": 1, "factory_id": 1, "item_id": 1,
                           "item_name": "Item1", "quantity": 1, "requester": "fuzz"},
    "/log": {"factory_id": 1, "factory_name": "Factory1", "item_id": 1, "item_name": "Item1",
             "quantity": 1, "requester": "fuzz"},
}
APP_OF = {"/item": "shop", "/purchases": "shop", "/production-orders": "factory", "/log": "factory"}
TEXT_FIELDS = {"/item": ("item_name", "requester"), "/purchases": ("requester",),
               "/production-orders": ("item_name", "requester"),
               "/log": ("factory_name", "item_name", "requester")}
NUMBER_FIELD = "quantity"
ID_FIELDS = {"/purchases": ("item_id",), "/log": ("factory_id", "item_id"),
             "/production-orders": ("replenishment_order_id", "factory_id", "item_id")}

SQL = ["Item1' OR '1'='1", "Item1'; DROP TABLE items; --", '" OR ""="', "1; SELECT SLEEP(5)",
       "Item1\\'); DELETE FROM logs; --"]
UNICODE_TOO_LONG = ["😀" * 101, "가" * 101, "\u202e" * 101, "A" * 100_00]
WRONG_TYPES = ["5", 5.5, True, None, [], {}, -1, 0, 10 ** 30, -(10 ** 30), 1_000_001, "1e3"]


def raw(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def lone_surrogate(valid: dict, name: str) -> bytes:
    """`valid` with the text field `name` set to the lone surrogate \\ud800 (as JSON escapes it)."""
    body = json.dumps({**valid, name: "X"}).replace('"X"', '"\\ud800"')
    assert body.count("\\ud800") == 1 and json.loads(body)[name] == "\ud800"
    return body.encode()


def cases():
    """(route, label, raw body) triples."""
    for route, valid in VALID.items():
        for name in TEXT_FIELDS[route]:
            # SQL-looking text with an invalid quantity: refused before the database. (With a
            # valid quantity it does reach the database: see test_sql_looking_text_is_only_data.)
            for n, text in enumerate(SQL):
                yield route, f"{name}-sql{n}", raw({**valid, name: text, NUMBER_FIELD: 0})
            for n, text in enumerate(UNICODE_TOO_LONG):
                yield route, f"{name}-long{n}", raw({**valid, name: text})
            yield route, f"{name}-empty", raw({**valid, name: ""})
            yield route, f"{name}-blank", raw({**valid, name: " \t "})
            yield route, f"{name}-crlf", raw({**valid, name: "a\r\nBcc: victim@example.com"})
            yield route, f"{name}-escape", raw({**valid, name: "\x1b[2Jcleared"})
            yield route, f"{name}-number", raw({**valid, name: 12345})
            # A lone surrogate in an otherwise valid body, so it reaches text handling (and the
            # database): not UTF-8, never storable, so it must be refused.
            yield route, f"{name}-lone-surrogate", lone_surrogate(valid, name)
        for name in ID_FIELDS.get(route, ()):  # past the column's range (INT or BIGINT)
            for n, value in enumerate((2**31, 2**63, 10**19)):
                if (name, value) != ("replenishment_order_id", 2**31):  # a BIGINT takes it
                    yield route, f"{name}-range{n}", raw({**valid, name: value})
        if route == "/production-orders":  # its column is String(36)
            yield route, "correlation-id-37", raw({**valid, "correlation_id": "c" * 37})
        for n, value in enumerate(WRONG_TYPES):
            yield route, f"quantity-type{n}", raw({**valid, NUMBER_FIELD: value})
        for literal in ("NaN", "Infinity", "-Infinity", "1e400", "1" * 5000):
            body = json.dumps({**valid, NUMBER_FIELD: 0}).replace('"quantity": 0',
                                                                  f'"quantity": {literal}')
            yield route, f"quantity-{literal[:10]}", body.encode()
        yield route, "deep-array", b"[" * DEEP + b"]" * DEEP
        yield route, "deep-object", b'{"a":' * DEEP + b"1" + b"}" * DEEP
        yield route, "deep-in-field", (raw(valid)[:-1] + b', "requester": '
                                       + b"[" * DEEP + b"]" * DEEP + b"}")
        yield route, "not-json", b"{item_name: Item1, quantity: 1"
        yield route, "empty-body", b""
        yield route, "null", b"null"
        yield route, "list", raw([valid])
        yield route, "string", raw("Item1")
        yield route, "nul-bytes", b"\x00" * 64
        yield route, "invalid-utf8", b'{"item_name": "\xff\xfe", "quantity": 1, "requester": "x"}'
        yield route, "too-large", raw({**valid, "padding": "x" * 70_000})
        yield route, "missing-fields", raw({})
        yield route, "unknown-only", raw({"admin": True, "price": 0})


CASES = list(cases())


def everything(fuzz_settings) -> dict:
    with session_factory(fuzz_settings.factory_database_url)() as session:
        factory = {model.__name__: session.scalar(select(func.count()).select_from(model))
                   for model in (ProductionLog, ProductionOrder, FactoryOutbox)}
    return {"shop": shop_state(fuzz_settings.shop_database_url), "factory": factory}


@pytest.fixture(scope="module")
def clients(shop_app, factory_app):
    # The factory's writes signed as the order consumer signs them: the bodies reach validation.
    return {"shop": shop_app.test_client(), "factory": SignedClient(factory_app.test_client())}


@pytest.mark.parametrize("route,label,body", CASES, ids=[f"{r}:{label}" for r, label, _ in CASES])
def test_hostile_body_gets_4xx_json_and_changes_nothing(clients, fuzz_settings, route, label, body):
    before = everything(fuzz_settings)
    answer = clients[APP_OF[route]].post(route, data=body,
                                         headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data()[:300])
    assert answer.is_json and isinstance(answer.get_json(), dict), answer.get_data()[:300]
    assert everything(fuzz_settings) == before


SQL_CASES = [(route, name, n, text) for route in VALID for name in TEXT_FIELDS[route]
             for n, text in enumerate(SQL)]


def stored_texts(fuzz_settings) -> set[str]:
    """Every text a request can write, as the databases hold it."""
    with session_factory(fuzz_settings.shop_database_url)() as session:
        texts = set(session.scalars(select(Purchase.requester)))
        texts |= set(session.scalars(select(ReplenishmentOrder.requester)))
    with session_factory(fuzz_settings.factory_database_url)() as session:
        for model, columns in ((ProductionOrder, ("item_name", "requester")),
                               (ProductionLog, ("factory_name", "item_name", "requester"))):
            for column in columns:
                texts |= set(session.scalars(select(getattr(model, column))))
    return texts


@pytest.mark.parametrize("route,name,n,text", SQL_CASES,
                         ids=[f"{r}:{name}-sql{n}-valid-quantity" for r, name, n, _ in SQL_CASES])
def test_sql_looking_text_with_a_valid_quantity_is_only_data(clients, fuzz_settings, route, name,
                                                             n, text):
    """With everything else valid, SQL-looking text reaches the database: it is refused (an item
    name that is no item) or stored verbatim; never executed (no table dropped or emptied, no
    SLEEP), never a 5xx."""
    body = {**VALID[route], name: text}
    if route == "/production-orders":  # a new order each time (an old id answers the old order)
        body["replenishment_order_id"] = 1000 + SQL_CASES.index((route, name, n, text))
    for item_id in (1, 3):  # enough stock that a purchase completes (a shortage is a 409 that
        # records the failed purchase): the text is then stored, or refused as no such item
        item = shop_service.get_item(shop_uow(fuzz_settings.shop_database_url), item_id)
        stock = item["quantity"]
        if stock < 5:
            shop_service.adjust_stock(shop_uow(fuzz_settings.shop_database_url), item_id,
                                      10 - stock, "fuzz top-up")
    before = everything(fuzz_settings)
    started = time.monotonic()
    answer = clients[APP_OF[route]].post(route, json=body)
    assert time.monotonic() - started < 4  # "SELECT SLEEP(5)" did not run
    assert answer.status_code < 500, (answer.status_code, answer.get_data()[:300])
    assert answer.is_json and isinstance(answer.get_json(), (dict, list)), answer.get_data()[:300]
    after = everything(fuzz_settings)
    if answer.status_code >= 400:
        assert after == before
        return
    assert answer.status_code in (200, 201), answer.get_data()[:300]
    assert text in stored_texts(fuzz_settings)  # verbatim, quotes and all
    for database in ("shop", "factory"):  # nothing dropped or deleted
        for table, count in before[database].items():
            if isinstance(count, int):
                assert after[database][table] >= count, (database, table)
    assert after["shop"]["stock"].keys() == before["shop"]["stock"].keys()


def test_the_valid_bodies_do_work(clients):
    """The hostile cases are variations of these, which the apps accept."""
    for route, body in VALID.items():
        answer = clients[APP_OF[route]].post(route, json=body)
        assert answer.status_code in (200, 201), (route, answer.get_json())
