"""The outbox sweep: a scheduled function per database that publishes whatever the post-commit
relay left behind (a broker outage, a process that died between commit and publish).

One sweep walks the unpublished rows once, oldest first, in two rounds: rows that never failed,
then rows that failed before and whose backoff has run out (inventory_core.adapters.outbox). A
row is tried at most once per sweep, and a destination that failed three times in a row not
again in that sweep, so rows that keep failing, however many, never keep a healthy row behind
them waiting; after OUTBOX_MAX_ATTEMPTS they are parked for an operator.

Rows are claimed with a short lease, so a sweep and a post-commit relay never send the same row
at once; a row published twice anyway (a crash after publish) is a duplicate the idempotent
consumers ignore. The sweep starts a publish only while the publisher's worst case still fits
in its time budget, which stays below the Lambda timeout."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from consumers import runtime
from inventory_core.adapters import metrics

# The outbox, the models and the service layer are imported when it runs, not at a cold start
# (consumers.runtime).
if TYPE_CHECKING:
    from inventory_core.adapters import outbox
    from inventory_core.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
LIMIT = 100  # rows claimed per pass
MAX_SECONDS = 20.0  # the Lambda timeout is 30 s (zappa_settings.json)
ANSWER_SECONDS = 3.0  # kept for the rest of the handler (housekeeping) and answering


def sweep(uow: UnitOfWork, limit: int = LIMIT, max_seconds: float = MAX_SECONDS,
          publisher: outbox.Publisher | None = None) -> dict:
    """Relay every unpublished, unparked row that is due, each at most once, until none is left
    or `max_seconds` would be exceeded. Totals of what happened. (The unit of work's own
    publisher is the request path's; the sweep publishes with `runtime.sweep_messaging()`.)"""
    from inventory_core.adapters import outbox
    from inventory_core.adapters.models.common import utcnow
    publisher = publisher or runtime.sweep_messaging()
    started = time.monotonic()
    deadline = started + max_seconds
    due_by = utcnow()
    failed_now: list[int] = []  # rows that failed in this sweep are not tried again in it
    breaker = outbox.Breaker()  # nor destinations that failed three times in a row
    totals: dict[str, float] = {"published": 0, "failed": 0, "parked": 0, "skipped": 0,
                                "passes": 0}
    out_of_time = False
    for retries in (False, True):
        after_id = 0
        while not out_of_time:
            result = outbox.relay(uow.sessions, uow.outbox_model, publisher, limit=limit,
                                  policy=uow.policy, deadline=deadline, retries=retries,
                                  after_id=after_id, due_by=due_by, skip=failed_now,
                                  breaker=breaker)
            for key in ("published", "failed", "parked", "skipped"):
                totals[key] += getattr(result, key)
            failed_now += result.failed_ids
            totals["passes"] += 1
            out_of_time = result.out_of_time
            after_id = result.last_id
            if result.selected < limit:
                break
    totals["out_of_time"] = out_of_time
    totals["seconds"] = round(time.monotonic() - started, 3)
    if totals["published"] or totals["failed"] or out_of_time:
        log.info("outbox sweep of %s: %s", uow.outbox_model.__name__, totals)
    return totals


def _time_budget(context) -> float:
    """MAX_SECONDS, or less when the Lambda has less left (keeping ANSWER_SECONDS to answer)."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return max(0.0, min(MAX_SECONDS,
                            context.get_remaining_time_in_millis() / 1000 - ANSWER_SECONDS))
    return MAX_SECONDS


def report(uow: UnitOfWork, service: str) -> dict[str, int]:
    """The outbox's state as metrics after each sweep (every minute on AWS): OutboxParkedRows,
    which Terraform alarms on (a parked event waits for an operator), and OutboxPendingRows."""
    from inventory_core.service_layer import parked_events
    counts = parked_events.counts(uow)
    metrics.emit("OutboxParkedRows", counts["parked"], service=service)
    metrics.emit("OutboxPendingRows", counts["pending"], service=service)
    return counts


def shop_handler(event=None, context=None) -> dict:
    """The shop's sweep; also forgets what the shop keeps only for a while (Idempotency-Keys,
    sign-in attempts: a day), since it runs on a schedule anyway (every minute on AWS)."""
    from inventory_core.service_layer import housekeeping
    totals = sweep(runtime.shop_uow(), max_seconds=_time_budget(context))
    totals["outbox"] = report(runtime.shop_uow(), "shop")
    totals["forgotten"] = housekeeping.forget_expired(runtime.shop_uow())
    return totals


def factory_handler(event=None, context=None) -> dict:
    totals = sweep(runtime.factory_uow(), max_seconds=_time_budget(context))
    totals["outbox"] = report(runtime.factory_uow(), "factory")
    return totals
