"""The delivery consumer's lean path (issue 12), on SQLite and MariaDB: outbox rows written at
commit already claimed by the process that publishes them, a batch's messages on one connection
with their events published after the batch, and a restock that locks its item's row but not
its factory's."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from consumers import delivery, outbox_sweep, runtime
from inventory_core.adapters import restocks
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import Item, ReplenishmentOrder, ShopOutbox
from inventory_core.domain.events import new_event
from inventory_core.service_layer import shop_service
from tests.helpers import shop_state, shop_uow


class Broker:
    """Records what would have gone to SNS; fails while `down`."""

    publish_timeout_seconds = 0.0

    def __init__(self):
        self.sent: list[str] = []
        self.down = False

    def publish(self, destination, event_type, body, delay_seconds=0):
        if self.down:
            raise ConnectionError("SNS is down")
        self.sent.append(event_type)


def _depleted(item_id: int = 1):
    return new_event("stock.depleted", {"item_id": item_id, "item_name": "Item1", "quantity": 0})


def _rows(url: str) -> list[ShopOutbox]:
    with session_factory(url)() as session:
        return list(session.scalars(select(ShopOutbox).order_by(ShopOutbox.outbox_id)))


def _emit(url: str, publisher=None, held: list | None = None) -> str:
    uow = shop_uow(url, publisher)
    uow.held = held
    event = _depleted()
    with uow:
        uow.emit(event)
        uow.commit()
    return event.event_id


def test_a_row_published_after_its_commit_is_never_claimed_again(shop_url):
    broker = Broker()
    _emit(shop_url, broker)
    [row] = _rows(shop_url)
    assert broker.sent == ["stock.depleted"]
    assert row.published_at is not None and row.claimed_until is None and row.attempts == 1
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)["published"] == 0


def test_held_rows_wait_for_their_publisher_and_go_to_the_sweep_once_the_claim_lapses(shop_url):
    broker, held = Broker(), []
    _emit(shop_url, broker, held)
    [row] = _rows(shop_url)
    # Committed, claimed by this process: no sweep takes it while the claim holds.
    assert broker.sent == [] and row.published_at is None and row.attempts == 1
    assert row.claimed_until > utcnow()
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)["published"] == 0
    shop_uow(shop_url, broker).publish(held)
    assert broker.sent == ["stock.depleted"] and _rows(shop_url)[0].published_at is not None

    # A process that died holding its rows: the sweep sends them once the claim has lapsed.
    died = []
    _emit(shop_url, broker, died)
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)["published"] == 0
    with session_factory(shop_url).begin() as session:
        session.execute(update(ShopOutbox).where(ShopOutbox.published_at.is_(None))
                        .values(claimed_until=utcnow() - timedelta(seconds=1)))
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)["published"] == 1
    assert broker.sent == ["stock.depleted"] * 2 and all(r.published_at for r in _rows(shop_url))


def test_a_batch_of_more_held_rows_than_one_mark_takes_is_marked_whole_and_alone(shop_url):
    # 23 rows: two full marks and a short one (its list padded). A row left to the sweep is
    # not marked with them.
    broker, held = Broker(), []
    for_the_sweep = _emit(shop_url)
    for _ in range(23):
        _emit(shop_url, broker, held)
    assert [r.published_at for r in _rows(shop_url)] == [None] * 24
    shop_uow(shop_url, broker).publish(held)
    rows = {r.event_id: r for r in _rows(shop_url)}
    assert broker.sent == ["stock.depleted"] * 23
    assert all(rows[r.event_id].published_at is not None and rows[r.event_id].claimed_until
               is None for r in held)
    assert rows[for_the_sweep].published_at is None
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)["published"] == 1


def test_a_failed_publish_after_commit_leaves_the_row_to_the_sweep_at_once(shop_url):
    broker = Broker()
    broker.down = True
    _emit(shop_url, broker)
    [row] = _rows(shop_url)
    assert row.published_at is None and row.claimed_until is None and row.last_error
    broker.down = False
    swept = outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)
    assert swept["published"] == 1 and broker.sent == ["stock.depleted"]


def test_without_a_publisher_rows_are_written_unclaimed_for_the_sweep(shop_url):
    _emit(shop_url)
    [row] = _rows(shop_url)
    assert row.claimed_until is None and row.attempts == 0
    broker = Broker()
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=broker)["published"] == 1


def _accepted_orders(url: str, count: int) -> list[dict]:
    """Out-of-stock items 100.. with an accepted order each (production order 500..)."""
    now = utcnow()
    with session_factory(url).begin() as session:
        for n in range(count):
            session.add(Item(item_id=100 + n, name=f"T{n}", price=1, quantity=0, factory_id=1))
        session.flush()
        for n in range(count):
            session.add(ReplenishmentOrder(
                replenishment_order_id=900 + n, item_id=100 + n, open_item_id=100 + n,
                quantity=4, status="accepted", trigger="shortage", requester="t",
                factory_reference=str(500 + n), created_at=now, accepted_at=now,
                requested_at=now))
    return [{"production_order_id": 500 + n, "replenishment_order_id": 900 + n,
             "factory_id": 1, "item_id": 100 + n, "item_name": f"T{n}", "quantity": 4,
             "completed_at": "2026-01-01T00:00:00+00:00"} for n in range(count)]


def _record(payload: dict, message_id: str, event=None) -> dict:
    event = event or new_event("production.completed", payload)
    return {"messageId": message_id, "body": event.to_json(), "attributes": {},
            "eventSourceARN": "arn:aws:sqs:r:1:x-delivery-queue"}


@pytest.fixture
def consumer_on(shop_url, monkeypatch):
    broker = Broker()
    monkeypatch.setenv("SHOP_DATABASE_URL", shop_url)
    runtime.reset()
    monkeypatch.setattr(runtime, "messaging", lambda: broker)
    yield broker
    monkeypatch.undo()
    runtime.reset()


def test_a_batch_restocks_each_message_alone_and_publishes_after_the_batch(shop_url, consumer_on,
                                                                           monkeypatch):
    first, second, third = _accepted_orders(shop_url, 3)
    duplicate = new_event("production.completed", first)
    unknown_item = {**second, "item_id": 999}  # retried, then dead-lettered: fails alone
    records = [_record(first, "a", duplicate), _record(unknown_item, "b"),
               _record(first, "c", duplicate), _record(second, "d"), _record(third, "e")]
    published_during = []
    real_receive = shop_service.receive_stock

    def receive(*args, **kwargs):  # what the broker has while the batch is being handled
        published_during.append(list(consumer_on.sent))
        return real_receive(*args, **kwargs)

    monkeypatch.setattr(shop_service, "receive_stock", receive)
    answer = delivery.handler({"Records": records})

    # The failure is its own: the messages after it, on the same connection, went through.
    assert answer == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    stock = shop_state(shop_url)["stock"]
    assert (stock["T0"], stock["T1"], stock["T2"]) == (4, 4, 4)  # the duplicate restocked once
    for item_id in (100, 101, 102):
        assert shop_service.ledger_balance(shop_uow(shop_url), item_id) == 4
    assert all(sent == [] for sent in published_during)  # nothing before the batch ended
    assert consumer_on.sent == ["stock.restocked"] * 3
    assert all(r.published_at is not None for r in _rows(shop_url))


def _lock_wait_timeout(session, seconds: int = 1):
    session.execute(text(f"SET SESSION innodb_lock_wait_timeout = {seconds}"))
    return session


def _free(session, sql: str) -> bool:
    try:
        session.execute(text(sql))
        return True
    except OperationalError as exc:
        if exc.orig.args[0] != 1205:  # anything but a lock wait timeout is a failure here
            raise
        return False
    finally:
        session.rollback()


@pytest.mark.parametrize("backend", ["mysql"])
def test_a_restock_locks_its_item_then_its_order_but_not_its_factory(shop_url, mysql_backend):
    # Item 100 and Item3 both come from Factory1. Lock item 100 and its order as a restock does,
    # with its factory's name read for the lead-time metric: Factory1's row and Item3 stay free.
    _accepted_orders(shop_url, 1)  # item 100, Factory1, order 900
    sessions = session_factory(shop_url)
    holder, other = sessions(), _lock_wait_timeout(sessions())
    try:
        row = holder.connection().execute(restocks.LOCK_ITEM_AND_ORDER,
                                          {"key": 100, "order_key": 900}).one()
        assert (row.factory_name, row.status, row.ordered_quantity) == ("Factory1", "accepted", 4)
        assert not _free(other, "SELECT 1 FROM items WHERE item_id = 100 FOR UPDATE")
        assert not _free(other, "SELECT 1 FROM replenishment_orders "
                                "WHERE replenishment_order_id = 900 FOR UPDATE")
        assert _free(other, "SELECT 1 FROM factories WHERE factory_id = 1 FOR UPDATE")
        assert _free(other, "SELECT 1 FROM items WHERE item_id = 3 FOR UPDATE")
        holder.rollback()

        # The item before the order, as a sale locks them: waiting for an order held elsewhere,
        # the restock already holds its item.
        other.execute(text("SELECT 1 FROM replenishment_orders "
                           "WHERE replenishment_order_id = 900 FOR UPDATE"))
        waiting = threading.Thread(target=lambda: holder.connection().execute(
            restocks.LOCK_ITEM_AND_ORDER, {"key": 100, "order_key": 900}).one())
        waiting.start()
        time.sleep(0.5)
        with _lock_wait_timeout(sessions()) as third:
            assert not _free(third, "SELECT 1 FROM items WHERE item_id = 100 FOR UPDATE")
        other.rollback()
        waiting.join(10)
        assert not waiting.is_alive()
    finally:
        holder.close()
        other.close()


@pytest.mark.parametrize("backend", ["mysql"])
def test_a_connection_lost_mid_batch_fails_only_the_message_using_it(shop_url, mysql_backend,
                                                                     consumer_on, monkeypatch):
    payloads = _accepted_orders(shop_url, 4)
    real_receive = shop_service.receive_stock
    seen = []

    def receive(uow, *args, **kwargs):
        seen.append(args[0])
        if len(seen) == 2:  # the server drops the batch's connection (a failover, a restart)
            with uow.sessions() as session:
                connection_id = session.execute(text("SELECT CONNECTION_ID()")).scalar()
            with session_factory(shop_url)() as killer:
                killer.execute(text(f"KILL CONNECTION {int(connection_id)}"))
        return real_receive(uow, *args, **kwargs)

    monkeypatch.setattr(shop_service, "receive_stock", receive)
    records = [_record(p, str(n)) for n, p in enumerate(payloads)]
    assert delivery.handler({"Records": records}) == {"batchItemFailures": [
        {"itemIdentifier": "1"}]}  # redelivered by SQS; the others went through, reconnected
    stock = shop_state(shop_url)["stock"]
    assert (stock["T0"], stock["T1"], stock["T2"], stock["T3"]) == (4, 0, 4, 4)
    assert consumer_on.sent == ["stock.restocked"] * 3
