"""Notify consumer: stock.depleted / stock.restocked / replenishment.requested and .cancelled /
backorder.filled / backorder.cancelled -> pause or resume the item's advertisement and e-mail the
ad or factory manager, or the backorder's requester, through SES; replenishment.failed / .stalled
and delivery.anomaly -> e-mail the operator (OPERATOR_EMAIL).

Idempotent on the event id (see inventory_core.service_layer.notifications): a duplicate sends no
second e-mail.
SES errors, by kind (inventory_core.adapters.messaging):
- refused for good (MessageRejected, an unverified sender or sandbox recipient, AccessDenied …):
  the message is dead-lettered at once with SES's reason, instead of burning 5 receives;
- throttled (the sandbox sends 1 message/s): the message comes back after a short backoff
  (ChangeMessageVisibility), not after the queue's 180 s;
- anything else: reported in batchItemFailures, redelivered, dead-lettered after maxReceiveCount.
Whatever was sent stays sent: a redelivery sends only the e-mails still unsent."""
from __future__ import annotations

from typing import TYPE_CHECKING

from consumers import runtime
from consumers.batch import PermanentFailure, RetryLater, handle_batch
from inventory_core.adapters.messaging import MailRejected, MailThrottled

if TYPE_CHECKING:
    from inventory_core.service_layer.notifications import NotifyResult


def handle_record(record: dict) -> NotifyResult:
    # imported on the first message, not at a cold start (consumers.runtime)
    from inventory_core.domain.events import parse_event
    from inventory_core.service_layer import notifications
    event = parse_event(record["body"], expected_types=notifications.EVENT_TYPES)
    try:
        settings = runtime.settings()
        return notifications.handle_event(runtime.shop_uow(), runtime.messaging(),
                                          settings.ses_sender, event, settings.operator_email)
    except notifications.EmailNotSent as exc:
        errors = exc.errors
        if errors and any(isinstance(e, MailThrottled) for e in errors):
            raise RetryLater(str(exc)) from exc
        if errors and all(isinstance(e, MailRejected) for e in errors):
            raise PermanentFailure(str(exc)) from exc
        raise


def handler(event: dict, context=None) -> dict:
    return handle_batch(event, handle_record, runtime.messaging())
