"""The outbox lease: a relay that claimed rows and died before marking them loses no event (the
sweep sends them once the claim has lapsed), and a claim still held is not sent twice.
SQLite and MySQL/MariaDB."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from consumers import outbox_sweep
from inventory_core.adapters import outbox
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.domain.events import new_event
from inventory_core.topology import TOPOLOGY
from tests.helpers import shop_uow


class RecordingPublisher:
    """Records what would have gone to SNS/SQS."""

    def __init__(self):
        self.sent: list[tuple[str, str, str, int]] = []

    def publish(self, destination, event_type, body, delay_seconds=0):
        self.sent.append((destination, event_type, body, delay_seconds))


def _claimed_row(url: str, claimed_until, attempts: int = 1) -> str:
    """An unpublished outbox row, as a relay leaves it that claimed it (until `claimed_until`)
    and died before publishing or marking it. Its event id."""
    event = new_event("stock.depleted", {"item_id": 1, "item_name": "Item1", "quantity": 0})
    with session_factory(url).begin() as session:
        session.add(ShopOutbox(event_id=event.event_id, event_type=event.type,
                               destination=TOPOLOGY.event_types[event.type], body=event.to_json(),
                               delay_seconds=0, claimed_until=claimed_until, attempts=attempts))
    return event.event_id


def _row(url: str, event_id: str) -> ShopOutbox:
    with session_factory(url)() as session:
        return session.scalar(select(ShopOutbox).where(ShopOutbox.event_id == event_id))


def _pending(url: str) -> int:
    with session_factory(url)() as session:
        return outbox.pending_count(session, ShopOutbox)


def test_rows_of_a_relay_that_died_are_sent_once_the_claim_lapses(shop_url):
    event_id = _claimed_row(shop_url, utcnow() - timedelta(seconds=1))
    assert _pending(shop_url) == 1
    publisher = RecordingPublisher()

    swept = outbox_sweep.sweep(shop_uow(shop_url), publisher=publisher)

    assert swept["published"] == 1 and swept["failed"] == 0
    assert [(d, t) for d, t, _, _ in publisher.sent] == [
        (TOPOLOGY.event_types["stock.depleted"], "stock.depleted")]
    assert event_id in publisher.sent[0][2]
    assert _pending(shop_url) == 0
    row = _row(shop_url, event_id)
    assert row.published_at is not None and row.attempts == 2
    # Published and marked: a second sweep sends nothing again.
    assert outbox_sweep.sweep(shop_uow(shop_url), publisher=publisher)["published"] == 0
    assert len(publisher.sent) == 1


def test_a_row_whose_claim_is_still_held_is_not_sent_again(shop_url):
    held = utcnow() + timedelta(seconds=outbox.CLAIM_SECONDS)
    event_id = _claimed_row(shop_url, held)
    publisher = RecordingPublisher()

    swept = outbox_sweep.sweep(shop_uow(shop_url), publisher=publisher)

    assert swept["published"] == 0 and swept["failed"] == 0
    assert publisher.sent == []
    assert _pending(shop_url) == 1  # still owed: the relay holding it (or a later sweep) sends it
    row = _row(shop_url, event_id)
    assert row.published_at is None and row.attempts == 1  # not claimed a second time
