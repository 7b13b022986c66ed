"""Tables both databases have: the transactional outbox and the processed-events record."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# BIGINT autoincrement on MySQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


# Constraint names fixed by convention, so migrations can refer to them on every backend.
NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


def utcnow() -> datetime:
    """Now in UTC, in whole seconds: what MySQL's DATETIME keeps, so a value answered before the
    commit equals the same value read back later, on every backend."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class UTCDateTime(TypeDecorator):
    """Naive UTC in the database (MySQL DATETIME has no zone), aware UTC in Python."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class OutboxMixin:
    """An event committed in the same transaction as the change that caused it.

    `destination` is a topology topic key (published to SNS) or `queue:<key>` (sent straight to
    an SQS queue, with `delay_seconds`, which SNS cannot do). A relay claims a row for a short lease
    (`claimed_until`) so the post-commit publish and the sweep do not both send it, publishes
    outside any transaction, then sets `published_at`. A failed attempt records `last_error` and
    when to try again (`next_attempt_at`, backing off); after the configured number of attempts
    the row is parked (`parked_at`): kept, no longer tried, until an operator re-publishes it."""

    __tablename__ = "outbox"

    if TYPE_CHECKING:  # the keyword constructor of the declarative base it is mixed into
        def __init__(self, **columns: Any) -> None: ...

    outbox_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class ProcessedEventMixin:
    """The id of every event a consumer applied, written in the same transaction as its effect,
    so a redelivered duplicate is recognised and changes nothing."""

    __tablename__ = "processed_events"

    if TYPE_CHECKING:  # the keyword constructor of the declarative base it is mixed into
        def __init__(self, **columns: Any) -> None: ...

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["JSON", "NAMING", "BigId", "OutboxMixin", "ProcessedEventMixin", "UTCDateTime", "iso",
           "utcnow"]
