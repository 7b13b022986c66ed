"""The shop redrives dead letters only to queues its role may send to: never to the factory's
private production queue (terraform/iam.tf, local.services.shop.sends_to)."""
from __future__ import annotations

import pytest

from inventory_core.service_layer import dead_letters
from tests.helpers import shop_uow


class Recorder:
    def __init__(self):
        self.sent = []

    def queue_url(self, name):
        return f"https://sqs.example/{name}"

    def send(self, url, body, attributes=None):
        self.sent.append((url, body))
        return "m"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_production_dead_letter_is_not_redriven_by_the_shop(shop_url):
    uow, queues = shop_uow(shop_url), Recorder()
    production = dead_letters.record_dead_letter(
        uow, "p-production-queue-dlq", "m1", '{"event_id": "e1"}', None, 5).dead_letter_id
    order = dead_letters.record_dead_letter(
        uow, "p-order-queue-dlq", "m2", '{"event_id": "e2"}', None, 5).dead_letter_id

    with pytest.raises(dead_letters.NotRedrivable, match="factory's own queue"):
        dead_letters.redrive(uow, queues, production)
    assert queues.sent == []
    assert dead_letters.get_dead_letter(uow, production)["status"] == "dead"

    assert [r["dead_letter_id"] for r in dead_letters.redrive_all(uow, queues)] == [order]
    assert queues.sent == [("https://sqs.example/p-order-queue", '{"event_id": "e2"}')]
