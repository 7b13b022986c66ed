"""Operator sign-in attempts, rate-limited per client: at most MAX_ATTEMPTS in any WINDOW.

Attempts are rows in the shop database, so the limit holds across gunicorn workers and Lambda
containers alike (an in-memory counter would give each container its own ten). Two attempts
racing at the limit may both get in: the limit slows guessing down by orders of magnitude, it
is not a lock. Attempts are kept KEEP_ATTEMPTS for the record, then deleted by the shop's
scheduled sweep."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import LoginAttempt
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

MAX_ATTEMPTS = 10
WINDOW = timedelta(minutes=1)
KEEP_ATTEMPTS = timedelta(days=1)


def seconds_to_wait(uow: UnitOfWork, client: str, now: datetime | None = None) -> int:
    """0 when `client` may try now, else how many seconds until its oldest attempt in the
    window ages out."""
    now = now or utcnow()
    with uow:
        recent = list(uow.session.scalars(
            select(LoginAttempt.attempted_at)
            .where(LoginAttempt.client == client, LoginAttempt.attempted_at > now - WINDOW)
            .order_by(LoginAttempt.attempted_at.desc()).limit(MAX_ATTEMPTS)))
    if len(recent) < MAX_ATTEMPTS:
        return 0
    return max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds()))


@retry_transient
def record_attempt(uow: UnitOfWork, client: str, succeeded: bool,
                   now: datetime | None = None) -> None:
    with uow:
        uow.session.add(LoginAttempt(client=client[:64], succeeded=succeeded,
                                     attempted_at=now or utcnow()))
        uow.commit()


@retry_transient
def forget_attempts(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Delete attempts older than KEEP_ATTEMPTS; how many."""
    with uow:
        result = uow.session.execute(
            delete(LoginAttempt)
            .where(LoginAttempt.attempted_at < (now or utcnow()) - KEEP_ATTEMPTS)
            .execution_options(synchronize_session=False))
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)
