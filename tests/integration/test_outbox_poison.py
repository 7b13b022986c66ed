"""Outbox rows that cannot be published never hold up the rest: a healthy row behind any number
of failing ones goes out on the next sweep; a row that keeps failing backs off, then is parked
with its last error until an operator re-publishes it; rows are marked one by one, so a sweep
killed mid-way sends again at most the row it was publishing. SQLite and MySQL/MariaDB."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from consumers import outbox_sweep
from inventory_core.adapters import outbox
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import SWEEP, Messaging, ensure_topology
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.adapters.outbox import RetryPolicy
from inventory_core.domain.events import new_event
from inventory_core.service_layer.unit_of_work import UnitOfWork
from inventory_core.topology import TOPOLOGY

DEPLETED = {"item_id": 1, "item_name": "Item1", "quantity": 0}
REQUESTED = {"replenishment_order_id": 1, "item_id": 2, "item_name": "Item2", "quantity": 8,
             "factory_id": 2, "factory_name": "Factory2", "requester": "tester",
             "trigger": "shortage"}


def _add_rows(url: str, event_type: str, payload: dict, count: int) -> list[str]:
    """`count` unpublished outbox rows of `event_type`, as a committed change leaves them."""
    events = [new_event(event_type, payload) for _ in range(count)]
    with session_factory(url).begin() as session:
        for event in events:
            outbox.add(session, ShopOutbox, event, TOPOLOGY.event_types[event.type])
    return [event.event_id for event in events]


def _rows(url: str) -> dict[str, ShopOutbox]:
    with session_factory(url)() as session:
        return {row.event_id: row for row in session.scalars(select(ShopOutbox))}


def _uow(url: str, policy: RetryPolicy = outbox.DEFAULT_POLICY) -> UnitOfWork:
    return UnitOfWork(session_factory(url), ShopOutbox, policy=policy)


class RecordingPublisher:
    """A broker that takes every message except those for `failing` destinations."""

    def __init__(self, failing: frozenset[str] = frozenset()):
        self.failing = failing
        self.sent: list[str] = []  # event ids, in the order they were sent

    def publish(self, destination, event_type, body, delay_seconds=0):
        if destination in self.failing:
            raise RuntimeError(f"NotFound: topic {destination} does not exist")
        self.sent.append(json.loads(body)["event_id"])


def test_a_healthy_row_behind_150_poison_rows_is_published_on_the_next_sweep(settings):
    """150 rows for a topic that was deleted (SNS answers NotFound, through moto's server), then
    one row for a topic that exists: the next sweep publishes that one."""
    url = settings.shop_database_url
    ensure_topology(settings)
    broker = Messaging(settings, SWEEP)
    broker.client("sns").delete_topic(TopicArn=broker.topic_arn("stock_events"))
    poison = _add_rows(url, "stock.depleted", DEPLETED, 150)
    [healthy] = _add_rows(url, "replenishment.requested", REQUESTED, 1)

    swept = outbox_sweep.sweep(_uow(url), publisher=broker)

    rows = _rows(url)
    assert rows[healthy].published_at is not None
    assert swept["published"] == 1 and not swept["out_of_time"]
    # Three failures in a row and the sweep stops calling the deleted topic; the other rows for
    # it wait, untouched, for the next sweeps (which try three more each, then park them).
    assert swept["failed"] == 3 and swept["skipped"] >= 97
    tried = [p for p in poison if rows[p].attempts]
    assert tried == poison[:3]
    assert all(rows[p].published_at is None and "NotFound" in rows[p].last_error for p in tried)
    assert all(rows[p].last_error is None and rows[p].claimed_until is None for p in poison[3:])


def test_rows_that_failed_before_wait_behind_rows_never_tried(shop_url):
    """A sweep tries fresh rows first, so failing rows (which may be slow to fail) never use up
    its time before the healthy ones had their turn; then the failed ones that are due."""
    poison = _add_rows(shop_url, "stock.depleted", DEPLETED, 3)
    publisher = RecordingPublisher(failing=frozenset({TOPOLOGY.event_types["stock.depleted"]}))
    outbox_sweep.sweep(_uow(shop_url), publisher=publisher)  # they fail once
    fresh = _add_rows(shop_url, "stock.restocked", {**DEPLETED, "quantity": 3}, 2)

    order: list[str] = []
    publisher.failing = frozenset()
    publisher.sent = order
    outbox_sweep.sweep(_uow(shop_url), publisher=publisher)

    assert order == fresh + poison  # the second failure of each waits 0 s (policy.delay(1))


def test_a_row_that_keeps_failing_backs_off_then_is_parked_with_its_last_error(shop_url):
    policy = RetryPolicy(max_attempts=3, backoff_seconds=60)
    [poison] = _add_rows(shop_url, "stock.depleted", DEPLETED, 1)
    publisher = RecordingPublisher(failing=frozenset({TOPOLOGY.event_types["stock.depleted"]}))

    assert outbox_sweep.sweep(_uow(shop_url, policy), publisher=publisher)["failed"] == 1
    assert outbox_sweep.sweep(_uow(shop_url, policy), publisher=publisher)["failed"] == 1
    row = _rows(shop_url)[poison]
    assert row.attempts == 2 and row.parked_at is None
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=55)  # backing off: 60 s
    assert outbox_sweep.sweep(_uow(shop_url, policy), publisher=publisher)["failed"] == 0

    with session_factory(shop_url).begin() as session:  # the backoff has run out
        session.execute(update(ShopOutbox).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    swept = outbox_sweep.sweep(_uow(shop_url, policy), publisher=publisher)

    assert swept["failed"] == 1 and swept["parked"] == 1
    row = _rows(shop_url)[poison]
    assert row.attempts == 3 and row.parked_at is not None and row.published_at is None
    assert row.last_error == "RuntimeError: NotFound: topic stock_events does not exist"
    with session_factory(shop_url)() as session:
        assert outbox.pending_count(session, ShopOutbox) == 0  # no longer owed by the sweep
        assert outbox.parked_count(session, ShopOutbox) == 1
    with session_factory(shop_url).begin() as session:
        session.execute(update(ShopOutbox).values(next_attempt_at=None))
    assert outbox_sweep.sweep(_uow(shop_url, policy), publisher=publisher)["failed"] == 0
    assert _rows(shop_url)[poison].attempts == 3  # parked: never tried again by a sweep


class Killed(BaseException):
    """The Lambda runtime ending the invocation at its timeout: nothing after it runs."""


class DyingPublisher(RecordingPublisher):
    """Sends `survive` messages; the next one is sent and the process dies before it returns."""

    def __init__(self, survive: int):
        super().__init__()
        self.survive = survive

    def publish(self, destination, event_type, body, delay_seconds=0):
        super().publish(destination, event_type, body, delay_seconds)
        if len(self.sent) > self.survive:
            raise Killed()


def test_a_sweep_killed_mid_way_sends_again_only_the_row_it_was_publishing(shop_url):
    events = _add_rows(shop_url, "stock.depleted", DEPLETED, 60)
    dying = DyingPublisher(survive=30)
    with pytest.raises(Killed):
        outbox_sweep.sweep(_uow(shop_url), publisher=dying)
    assert len(dying.sent) == 31
    rows = _rows(shop_url)
    assert sum(rows[e].published_at is not None for e in events) == 30  # marked as they went

    with session_factory(shop_url).begin() as session:  # the dead sweep's claims lapse
        session.execute(update(ShopOutbox).values(claimed_until=utcnow() - timedelta(seconds=1)))
    after = RecordingPublisher()
    swept = outbox_sweep.sweep(_uow(shop_url), publisher=after)

    assert swept["published"] == 30
    assert sorted(dying.sent + after.sent) == sorted([*events, dying.sent[-1]])  # one duplicate
    assert all(row.published_at is not None for row in _rows(shop_url).values())


class SlowPublisher(RecordingPublisher):
    """A broker whose calls may each take up to `publish_timeout_seconds` (its worst case)."""

    publish_timeout_seconds = 8.0


def test_a_sweep_starts_no_publish_that_could_outlast_its_time_budget(shop_url):
    events = _add_rows(shop_url, "stock.depleted", DEPLETED, 3)
    publisher = SlowPublisher()

    swept = outbox_sweep.sweep(_uow(shop_url), publisher=publisher, max_seconds=5)

    assert swept["out_of_time"] and swept["published"] == 0 and publisher.sent == []
    rows = _rows(shop_url)
    # Released at once, and not counted as attempts: the next sweep takes them.
    assert all(rows[e].claimed_until is None and rows[e].attempts == 0 for e in events)
    assert outbox_sweep.sweep(_uow(shop_url), publisher=publisher, max_seconds=20)["published"] == 3
