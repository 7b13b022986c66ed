"""A client's `Idempotency-Key` (IETF httpapi draft, Stripe's API): claimed in the transaction
of the change it guards, with the answer that change got, so a retried request is answered, not
executed again. The shop's; kept apart from `idempotency` (events), which the factory uses too."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory_core.adapters import driver
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import IdempotencyKey

# Core statements on the DBAPI cursor (adapters.driver), as the sale's: a keyed purchase pays
# for these on top of it.
_keys = cast(Table, IdempotencyKey.__table__)
_CLAIM = insert(_keys).values({name: bindparam(name) for name in (
    "key_hash", "request_hash", "status_code", "response_body", "created_at")})
_READ = (select(_keys.c.request_hash, _keys.c.status_code, _keys.c.response_body)
         .where(_keys.c.key_hash == bindparam("hash")))
_ANSWER = (update(_keys).where(_keys.c.key_hash == bindparam("hash"))
           .values(status_code=bindparam("status"), response_body=bindparam("body")))


@dataclass(frozen=True)
class ClaimedKey:
    """A key someone claimed first, and the answer they got."""
    request_hash: str
    status_code: int
    response_body: str


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def claim_key(connection: Connection, key: str, request_hash: str) -> ClaimedKey | None:
    """Claim `key` in the caller's transaction, before it changes anything. None: claimed, go on
    and `record_answer`. Otherwise the row of whoever claimed it first, as committed: a
    concurrent first claimer makes this wait on the primary key until it commits (MySQL) or
    holds the database (SQLite), so its answer is there. Most keys are new: the claim is tried
    first, and read only when it clashes (one round trip for a new key, not two)."""
    hashed = key_hash(key)
    for _ in range(3):  # a clash with a row the sweep then deleted: claim it again
        try:
            driver.run(connection, _CLAIM, {"key_hash": hashed, "request_hash": request_hash,
                                            "status_code": 0, "response_body": "",
                                            "created_at": utcnow()})
            return None
        except IntegrityError:
            # Only this statement failed (the transaction goes on), and the claimer committed:
            # an uncommitted one makes the INSERT wait, and one that rolled back lets it in.
            row = driver.run(connection, _READ, {"hash": hashed}).row
        if row is not None:
            return ClaimedKey(*row)
    raise RuntimeError(f"idempotency key {hashed[:12]}... could be neither claimed nor read")


def record_answer(connection: Connection, key: str, status_code: int,
                  response_body: str) -> None:
    """The answer to a key claimed in this transaction."""
    driver.run(connection, _ANSWER, {"hash": key_hash(key), "status": status_code,
                                     "body": response_body})


def forget_keys_before(session: Session, cutoff: datetime) -> int:
    """Delete the keys claimed before `cutoff`; how many."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
