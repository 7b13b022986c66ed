"""Notify consumer: stock.depleted / stock.restocked / replenishment.requested -> pause or resume
the item's advertisement and e-mail the ad or factory manager through SES.

Idempotent on the event id (see inventory_core.service_layer.notifications): a duplicate sends no
second e-mail.
An SES error raises, so the record is reported in batchItemFailures, redelivered, and
dead-lettered after maxReceiveCount."""
from __future__ import annotations

from consumers import runtime
from consumers.batch import handle_batch
from inventory_core.domain.events import parse_event
from inventory_core.service_layer import notifications


def handle_record(record: dict) -> notifications.NotifyResult:
    event = parse_event(record["body"], expected_types=notifications.EVENT_TYPES)
    return notifications.handle_event(runtime.shop_uow(), runtime.messaging(),
                                      runtime.settings().ses_sender, event)


def handler(event: dict, context=None) -> dict:
    return handle_batch(event, handle_record, runtime.messaging())
