"""The outbox sweep: a scheduled function per database that publishes whatever the post-commit
relay left behind (a broker outage, a process that died between commit and publish).

Rows are claimed with a short lease, so a sweep and a post-commit relay never send the same row
at once; a row published twice anyway (a crash after publish) is a duplicate the idempotent
consumers ignore."""
from __future__ import annotations

import logging
import time

from consumers import runtime
from inventory_core.adapters import outbox
from inventory_core.service_layer import housekeeping
from inventory_core.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
LIMIT = 100
MAX_SECONDS = 20.0


def sweep(uow: UnitOfWork, limit: int = LIMIT, max_seconds: float = MAX_SECONDS,
          publisher: outbox.Publisher | None = None) -> dict:
    """Relay unpublished rows until a pass publishes fewer than `limit` (nothing more is
    waiting, or the broker is failing) or `max_seconds` have passed."""
    publisher = publisher or uow.publisher or runtime.messaging()
    started = time.monotonic()
    totals: dict[str, float] = {"published": 0, "failed": 0, "passes": 0}
    while True:
        result = outbox.relay(uow.sessions, uow.outbox_model, publisher, limit=limit)
        totals["published"] += result.published
        totals["failed"] += result.failed
        totals["passes"] += 1
        if result.published < limit or time.monotonic() - started >= max_seconds:
            break
    totals["seconds"] = round(time.monotonic() - started, 3)
    if totals["published"] or totals["failed"]:
        log.info("outbox sweep of %s: %s", uow.outbox_model.__name__, totals)
    return totals


def _time_budget(context) -> float:
    """MAX_SECONDS, or less when the Lambda has less left (keeping 3 s to answer)."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return max(0.0, min(MAX_SECONDS, context.get_remaining_time_in_millis() / 1000 - 3))
    return MAX_SECONDS


def shop_handler(event=None, context=None) -> dict:
    """The shop's sweep; also forgets what the shop keeps only for a while (Idempotency-Keys,
    sign-in attempts: a day), since it runs on a schedule anyway (every minute on AWS)."""
    totals = sweep(runtime.shop_uow(), max_seconds=_time_budget(context))
    totals["forgotten"] = housekeeping.forget_expired(runtime.shop_uow())
    return totals


def factory_handler(event=None, context=None) -> dict:
    return sweep(runtime.factory_uow(), max_seconds=_time_budget(context))

