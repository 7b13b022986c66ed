"""A client's `Idempotency-Key` (IETF httpapi draft, Stripe's API): claimed in the transaction
of the change it guards, with the answer that change got, so a retried request is answered, not
executed again. The shop's; kept apart from `idempotency` (events), which the factory uses too."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory_core.adapters.models.shop import IdempotencyKey


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def claim_key(session: Session, key: str, request_hash: str) -> IdempotencyKey | None:
    """Claim `key` in the caller's transaction, before it changes anything. None: claimed, go on
    and `record_answer`. Otherwise the row of whoever claimed it first, as committed: a
    concurrent first claimer makes this wait on the primary key until it commits (MySQL) or
    holds the database (SQLite), so its answer is there. After a clash the session has been
    rolled back."""
    hashed = key_hash(key)
    for _ in range(3):  # a clash with a claimer that then rolled back: claim it again
        existing = session.get(IdempotencyKey, hashed)
        if existing is not None:
            return existing
        session.add(IdempotencyKey(key_hash=hashed, request_hash=request_hash, status_code=0,
                                   response_body=""))
        try:
            session.flush()
            return None
        except IntegrityError:
            session.rollback()
    raise RuntimeError(f"idempotency key {hashed[:12]}... could be neither claimed nor read")


def record_answer(session: Session, key: str, status_code: int, response_body: str) -> None:
    row = session.get(IdempotencyKey, key_hash(key))
    if row is None:  # pragma: no cover - claim_key put it there in this transaction
        raise LookupError("the key was not claimed in this transaction")
    row.status_code, row.response_body = status_code, response_body


def forget_keys_before(session: Session, cutoff: datetime) -> int:
    """Delete the keys claimed before `cutoff`; how many."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
