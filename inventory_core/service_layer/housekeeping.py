"""What the shop keeps only for a while, deleted once it has expired: Idempotency-Keys after a
day (shop_service.KEEP_IDEMPOTENCY_KEYS), operator sign-in attempts after a day
(sign_in.KEEP_ATTEMPTS). The shop's scheduled sweep runs it (every minute on AWS, every
RELAY_INTERVAL locally)."""
from __future__ import annotations

from datetime import datetime

from inventory_core.service_layer import shop_service, sign_in
from inventory_core.service_layer.unit_of_work import UnitOfWork


def forget_expired(uow: UnitOfWork, now: datetime | None = None) -> dict[str, int]:
    """How many rows of each kind were deleted."""
    return {"idempotency_keys": shop_service.forget_idempotency_keys(uow, now),
            "login_attempts": sign_in.forget_attempts(uow, now)}
