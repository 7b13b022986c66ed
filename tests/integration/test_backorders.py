"""Backorders on a real database (SQLite and MariaDB; the races on MariaDB only): taken when stock
is short, owed units no plain sale can take, filled oldest first in the restock's transaction, one
purchase and ledger row each, cancelled by operators, the requester told."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy
from sqlalchemy import func, select

from inventory_core.adapters.db import get_engine, session_factory
from inventory_core.adapters.models.shop import (
    Backorder,
    EmailLog,
    Item,
    Purchase,
    ShopOutbox,
    StockLedgerEntry,
)
from inventory_core.domain.events import parse_event
from inventory_core.service_layer import backorders, dashboard, notifications, shop_service
from shop_api import create_app
from tests.helpers import shop_state, shop_uow

TOKEN = "s3cret-admin"
BACKORDER = shop_service.Backordering()


@pytest.fixture
def client(shop_url):
    app = create_app({"SHOP_DATABASE_URL": shop_url, "ADMIN_TOKEN": TOKEN,
                      "PUBLISH_AFTER_COMMIT": False, "TESTING": True})
    return app.test_client()


def backorder(url, quantity, requester="buyer", item="Item2", email=None):
    return shop_service.purchase(shop_uow(url), item, quantity, requester,
                                 shop_service.Backordering(email))


def restock(url, quantity, item_id=2):
    """What the delivery consumer does with a production.completed of `quantity` units."""
    order = next((o for o in shop_service.list_replenishments(shop_uow(url), "requested")
                  if o["item_id"] == item_id), None)
    return shop_service.receive_stock(shop_uow(url), str(uuid.uuid4()), item_id, quantity,
                                      order["replenishment_order_id"] if order else None)


def item_row(url, item_id=2) -> tuple[int, int]:
    with session_factory(url)() as session:
        return tuple(session.execute(select(Item.quantity, Item.backordered)
                               .where(Item.item_id == item_id)).one())


def statuses(url) -> dict[int, str]:
    with session_factory(url)() as session:
        return dict(session.execute(select(Backorder.backorder_id, Backorder.status)).all())


def outbox_events(url, event_type):
    with session_factory(url)() as session:
        return [parse_event(body) for body in session.scalars(
            select(ShopOutbox.body).where(ShopOutbox.event_type == event_type)
            .order_by(ShopOutbox.outbox_id))]


def test_a_short_backorder_answers_202_waiting_and_sells_nothing(client, shop_url):
    answer = client.post("/purchases", json={"item_name": "Item2", "quantity": 5,
                                             "requester": "jeonghun", "backorder": True})
    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert (body["status"], body["position"], body["quantity"]) == ("waiting", 1, 5)
    assert body["requester"] == "jeonghun" and body["notify_by"] == "event"
    # Sized to cover what is owed plus the target: 10 - (2 on hand - 5 owed) = 13.
    assert body["replenishment_order"]["quantity"] == 13
    assert body["replenishment_order"]["trigger"] == "backorder"
    assert item_row(shop_url) == (2, 5)
    second = client.post("/purchases", json={"item_id": 2, "quantity": 1, "requester": "b",
                                             "backorder": True, "email": "b@example.org"})
    assert second.status_code == 202 and second.get_json()["position"] == 2
    assert second.get_json()["notify_by"] == "email"
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == 2  # nothing sold
    item = client.get("/items/2").get_json()
    assert (item["quantity"], item["backordered"], item["available"]) == (2, 6, 0)


def test_with_enough_stock_a_backorder_request_is_a_plain_sale(client):
    answer = client.post("/purchases", json={"item_id": 3, "quantity": 2, "requester": "a",
                                             "backorder": True})
    assert answer.status_code == 201 and answer.get_json()["remaining"] == 1


def test_without_the_flag_and_on_the_seed_route_nothing_changes(client, shop_url):
    conflict = client.post("/purchases", json={"item_id": 2, "quantity": 5, "requester": "a"})
    assert conflict.status_code == 409
    seed = client.post("/item", json={"item_name": "Item2", "quantity": 5, "requester": "j"})
    assert seed.get_json() == {"message": "구매 실패! 남은 재고: 2, 생산요청 진행중"}
    with session_factory(shop_url)() as session:
        assert session.scalar(select(func.count()).select_from(Backorder)) == 0


@pytest.mark.parametrize("body, field", [
    ({"backorder": "yes"}, "backorder"),
    ({"backorder": 1}, "backorder"),
    ({"backorder": True, "email": "not-an-address"}, "email"),
    ({"email": "a@example.org"}, "email"),  # an address without a backorder
    ({"backorder": True, "email": "a" * 250 + "@example.org"}, "email"),
])
def test_bad_backorder_fields_answer_422_and_change_nothing(client, shop_url, body, field):
    before = shop_state(shop_url)
    answer = client.post("/purchases",
                         json={"item_id": 2, "quantity": 5, "requester": "a", **body})
    assert answer.status_code == 422 and field in answer.get_json()["errors"]
    assert shop_state(shop_url) == before


def test_a_backorder_larger_than_the_maximum_order_quantity_answers_422(client, shop_url):
    before = shop_state(shop_url)
    # Item2 has no rule of its own: target 10, so at most 100 per order.
    too_large = client.post("/purchases", json={"item_id": 2, "quantity": 101, "requester": "a",
                                                "backorder": True})
    assert too_large.status_code == 422, too_large.get_json()
    assert "maximum order quantity (100)" in too_large.get_json()["message"]
    assert shop_state(shop_url) == before  # no purchase, no backorder, no order
    keyed = client.post("/purchases", headers={"Idempotency-Key": "k-101"},
                        json={"item_id": 2, "quantity": 101, "requester": "a", "backorder": True})
    assert keyed.status_code == 422 and shop_state(shop_url) == before
    largest = client.post("/purchases", json={"item_id": 2, "quantity": 100, "requester": "a",
                                              "backorder": True})
    assert largest.status_code == 202
    # It owes 100 with 2 on hand: the order is capped at the maximum; the rest follows on receipt.
    assert largest.get_json()["replenishment_order"]["quantity"] == 100


def test_a_plain_purchase_cannot_take_units_a_backorder_is_owed(shop_url):
    assert backorder(shop_url, 3).backorder is not None  # 2 on hand: short, so it waits
    refused = shop_service.purchase(shop_uow(shop_url), "Item2", 1, "plain")
    assert not refused.completed and refused.remaining == 2 and refused.available == 0
    assert item_row(shop_url) == (2, 3)  # the 2 on hand are the waiting backorder's


def test_a_restock_fills_waiting_backorders_oldest_first_each_a_purchase(shop_url):
    ids = [backorder(shop_url, q, f"b{q}").backorder["backorder_id"] for q in (5, 3, 4)]
    restock(shop_url, 13)  # 2 + 13 = 15: 5, 3 and 4 filled, 3 left
    assert [statuses(shop_url)[i] for i in ids] == ["filled"] * 3
    assert item_row(shop_url) == (3, 0)
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == 3
    with session_factory(shop_url)() as session:
        fills = session.execute(select(StockLedgerEntry.reference, StockLedgerEntry.delta,
                                       StockLedgerEntry.quantity_after)
                                .where(StockLedgerEntry.reason == "sale")
                                .order_by(StockLedgerEntry.entry_id)).all()
        purchases = session.execute(select(Purchase.quantity, Purchase.requester)
                                    .where(Purchase.status == "completed")
                                    .order_by(Purchase.purchase_id)).all()
    assert fills == [(f"backorder:{ids[0]}", -5, 10), (f"backorder:{ids[1]}", -3, 7),
                     (f"backorder:{ids[2]}", -4, 3)]
    assert [tuple(p) for p in purchases] == [(5, "b5"), (3, "b3"), (4, "b4")]
    filled = outbox_events(shop_url, "backorder.filled")
    assert [e.payload["backorder_id"] for e in filled] == ids
    assert backorders.get_backorder(shop_uow(shop_url), ids[0])["purchase_id"] == \
        filled[0].payload["purchase_id"]


def test_a_short_restock_keeps_fifo_and_reorders_for_those_still_waiting(shop_url):
    first, large, small = (backorder(shop_url, q).backorder["backorder_id"] for q in (5, 6, 1))
    restock(shop_url, 4)  # 6 on hand: the first takes 5; 1 left, which the small one must not jump
    assert statuses(shop_url) == {first: "filled", large: "waiting", small: "waiting"}
    assert item_row(shop_url) == (1, 7)
    assert backorders.get_backorder(shop_uow(shop_url), large)["position"] == 1
    assert not shop_service.purchase(shop_uow(shop_url), "Item2", 1, "plain").completed
    # The order just received is closed and the next one is open, for the 7 owed plus the target.
    [reorder] = shop_service.list_replenishments(shop_uow(shop_url), "requested")
    assert (reorder["trigger"], reorder["quantity"]) == ("backorder", 10 - (1 - 7))
    restock(shop_url, reorder["quantity"])
    assert set(statuses(shop_url).values()) == {"filled"}
    assert item_row(shop_url) == (10, 0)
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == 10


def test_a_stock_adjustment_up_fills_backorders_too(shop_url):
    waiting = backorder(shop_url, 4).backorder["backorder_id"]
    assert shop_service.adjust_stock(shop_uow(shop_url), 2, 3, "found in the back") == 1
    assert statuses(shop_url)[waiting] == "filled" and item_row(shop_url) == (1, 0)


def test_operators_cancel_a_waiting_backorder_once(client, shop_url):
    waiting = backorder(shop_url, 5).backorder["backorder_id"]
    path = f"/admin/backorders/{waiting}/cancel"
    assert client.post(path).status_code in (401, 403)  # no credential
    answer = client.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"
    assert item_row(shop_url) == (2, 0)  # no longer owed: a plain sale may take them
    again = client.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert again.status_code == 409 and "cancelled" in again.get_json()["message"]
    missing = client.post("/admin/backorders/999/cancel",
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 404
    assert [e.payload["backorder_id"] for e in outbox_events(shop_url, "backorder.cancelled")] \
        == [waiting]
    restock(shop_url, 13)
    assert statuses(shop_url)[waiting] == "cancelled"  # a cancelled one is never filled


def test_cancelling_the_head_fills_the_next_in_line_from_the_stock_it_held(shop_url):
    head, small = (backorder(shop_url, q).backorder["backorder_id"] for q in (5, 1))
    assert item_row(shop_url) == (2, 6)
    backorders.cancel(shop_uow(shop_url), head)
    assert statuses(shop_url) == {head: "cancelled", small: "filled"}
    assert item_row(shop_url) == (1, 0)
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == 1


def test_backorders_are_listed_filtered_and_masked_for_the_public(client, shop_url):
    a = backorder(shop_url, 5, "jeonghun").backorder["backorder_id"]
    b = backorder(shop_url, 1, "minsu", item="Item1").backorder  # Item1: 1 on hand, 1 left
    assert b is None  # enough stock: sold at once
    c = backorder(shop_url, 2, "minsu", item="Item1").backorder["backorder_id"]
    everyone = client.get("/backorders").get_json()
    assert [x["backorder_id"] for x in everyone] == [a, c]
    assert {x["requester"] for x in everyone} == {"j***", "m***"}
    operator = client.get("/backorders?item_id=2",
                          headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert [(x["backorder_id"], x["requester"]) for x in operator] == [(a, "jeonghun")]
    assert client.get("/backorders?status=filled").get_json() == []
    assert client.get("/backorders?status=lost").status_code == 422
    one = client.get(f"/backorders/{c}").get_json()
    assert (one["item_name"], one["position"], one["status"]) == ("Item1", 1, "waiting")
    assert "email" not in one
    assert client.get("/backorders/12345").status_code == 404


def test_queue_places_count_each_items_waiting_ones_in_one_query_for_a_whole_list(shop_url):
    """Places renumber when one in the middle ends, per item; a longer list costs no more
    statements than a shorter one (not one count per backorder)."""
    first, middle, last = (backorder(shop_url, q).backorder["backorder_id"] for q in (5, 4, 3))
    one, two = (backorder(shop_url, q, item="Item1").backorder["backorder_id"] for q in (2, 3))
    backorders.cancel(shop_uow(shop_url), middle)  # 2 on hand: the head (5) still waits
    listed = backorders.list_backorders(shop_uow(shop_url))
    assert [(b["backorder_id"], b["position"]) for b in listed] == [
        (first, 1), (middle, None), (last, 2), (one, 1), (two, 2)]
    assert backorders.get_backorder(shop_uow(shop_url), last)["position"] == 2

    statements = []
    engine = get_engine(shop_url)
    count = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement...)
    sqlalchemy.event.listen(engine, "before_cursor_execute", count)
    try:
        backorders.list_backorders(shop_uow(shop_url), limit=2)
        short, statements[:] = len(statements), []
        backorders.list_backorders(shop_uow(shop_url), limit=5)
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == short, statements


def test_the_requester_is_emailed_where_an_address_was_given(shop_url):
    backorder(shop_url, 3, "withmail", email="buyer@example.org")
    backorder(shop_url, 2, "nomail")
    # What the open order asked for (more would be an over-delivery: no stock, an anomaly)
    restock(shop_url, next(o["quantity"] for o in shop_service.list_replenishments(
        shop_uow(shop_url), "requested") if o["item_id"] == 2))
    for event in outbox_events(shop_url, "backorder.filled"):
        assert notifications.record_event(shop_uow(shop_url), event)[0]
        assert not notifications.record_event(shop_uow(shop_url), event)[0]  # a redelivery
    with session_factory(shop_url)() as session:
        mails = session.execute(select(EmailLog.recipient, EmailLog.subject, EmailLog.body)).all()
    [(recipient, subject, body)] = mails  # the other requester is told by the event alone
    assert recipient == "buyer@example.org"
    assert subject == "[Backorder filled] 3 x Item2" and "withmail" in body


def test_the_dashboard_shows_waiting_backorders_per_item_and_their_age(shop_url):
    backorder(shop_url, 5)
    backorder(shop_url, 1)
    with session_factory(shop_url)() as session:
        created = session.scalar(select(func.min(Backorder.created_at)))
    from datetime import timedelta
    state = dashboard.dashboard_state(shop_uow(shop_url), now=created + timedelta(seconds=90))
    item2 = next(i for i in state["items"] if i["item_id"] == 2)
    assert (item2["backorders_waiting"], item2["backordered"]) == (2, 6)
    assert item2["backorder_oldest_age_seconds"] == 90
    assert state["summary"]["backorders_waiting"] == 2


# --- races: MariaDB only (SQLite serialises every writer, so nothing could race there) ----------

MYSQL_ONLY = pytest.mark.parametrize("backend", ["mysql"])


@MYSQL_ONLY
def test_racing_restocks_buyers_and_backorders_never_oversell_nor_fill_twice(mysql_backend,
                                                                             shop_url):
    threads, rounds = 12, 8
    barrier = threading.Barrier(threads)
    restocked = []

    def worker(n):
        barrier.wait()
        for i in range(rounds):
            kind = (n + i) % 3
            if kind == 0:
                backorder(shop_url, 3 + (n + i) % 4, f"b{n}")  # 3 to 6: often more than there is
            elif kind == 1:
                shop_service.purchase(shop_uow(shop_url), "Item2", 1 + i % 2, f"p{n}")
            else:  # the factory delivers the open order (a completion naming none moves nothing)
                order = next((o for o in shop_service.list_replenishments(
                    shop_uow(shop_url), "requested") if o["item_id"] == 2), None)
                if order is None:
                    continue
                result = shop_service.receive_stock(shop_uow(shop_url), str(uuid.uuid4()), 2,
                                                    order["quantity"],
                                                    order["replenishment_order_id"])
                if result.applied and result.anomaly is None:  # another thread's won the order
                    restocked.append(order["quantity"])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))

    quantity, owed = item_row(shop_url)
    with session_factory(shop_url)() as session:
        rows = session.execute(select(Backorder.backorder_id, Backorder.quantity,
                                      Backorder.status, Backorder.purchase_id)
                               .order_by(Backorder.backorder_id)).all()
        fill_refs = list(session.scalars(select(StockLedgerEntry.reference).where(
            StockLedgerEntry.reference.like("backorder:%"))))
        sold = session.scalar(select(func.coalesce(func.sum(Purchase.quantity), 0))
                              .where(Purchase.status == "completed"))
    assert quantity >= 0
    assert owed == sum(q for _, q, s, _ in rows if s == "waiting")  # the owed units add up
    assert len(fill_refs) == len(set(fill_refs))  # no backorder filled twice
    assert sorted(fill_refs) == sorted(f"backorder:{i}" for i, _, s, _ in rows if s == "filled")
    assert all((s == "filled") == (p is not None) for _, _, s, p in rows)
    # Strict FIFO: no waiting backorder is older than a filled one.
    filled = [i for i, _, s, _ in rows if s == "filled"]
    waiting = [(i, q) for i, q, s, _ in rows if s == "waiting"]
    # Backorders were filled (and counted as sales). Whether plain buyers got any units depends on
    # the interleaving: restocks deliver only what the open order asked for, and waiting
    # backorders take it first.
    assert filled and sold >= sum(q for _, q, s, _ in rows if s == "filled")
    assert not waiting or max(filled) < waiting[0][0]
    # and the head of the queue waits only because the stock cannot cover it
    assert not waiting or quantity < waiting[0][1]
    # Nothing oversold: what was sold plus what is left is what there was plus what arrived.
    assert sold + quantity == 2 + sum(restocked)
    assert shop_service.ledger_balance(shop_uow(shop_url), 2) == quantity
