"""The factory database: the seed's `logs`, and production orders with their lead time."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from inventory_core.adapters.models.common import (
    NAMING,
    BigId,
    OutboxMixin,
    ProcessedEventMixin,
    UTCDateTime,
    utcnow,
)


class FactoryBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FactorySite(FactoryBase):
    """A factory as the factory database knows it, with its production lead time."""

    __tablename__ = "factories"

    factory_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    lead_time_seconds: Mapped[int] = mapped_column(Integer, default=10)


class ProductionOrder(FactoryBase):
    """One per shop replenishment order (unique), so a retried request creates nothing new."""

    __tablename__ = "production_orders"

    production_order_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    replenishment_order_id: Mapped[int] = mapped_column(BigId, unique=True)
    factory_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    item_name: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    requester: Mapped[str] = mapped_column(String(100))
    # in_production | completed | cancelled (the shop cancelled it before it was produced; a
    # cancel that arrives before its request leaves a cancelled row, so the request finds it)
    status: Mapped[str] = mapped_column(String(16), default="in_production")
    correlation_id: Mapped[str | None] = mapped_column(String(36))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProductionLog(FactoryBase):
    """The seed's production log, one row per production order (plus the seed's sample row)."""

    __tablename__ = "logs"

    log_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    factory_id: Mapped[int] = mapped_column(Integer)
    factory_name: Mapped[str] = mapped_column(String(100))
    item_id: Mapped[int] = mapped_column(Integer)
    item_name: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    requester: Mapped[str] = mapped_column(String(100))
    logged_at: Mapped[datetime] = mapped_column("datetime", UTCDateTime, default=utcnow)
    production_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("production_orders.production_order_id"))


class FactoryOutbox(OutboxMixin, FactoryBase):
    pass


class FactoryProcessedEvent(ProcessedEventMixin, FactoryBase):
    pass
