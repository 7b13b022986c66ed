"""The shop database: the seed's `factories` and `items`, and what correctness needs around them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from inventory_core.adapters.models.common import (
    NAMING,
    BigId,
    OutboxMixin,
    ProcessedEventMixin,
    UTCDateTime,
    utcnow,
)
from inventory_core.domain.replenishment import STATUSES


class ShopBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Factory(ShopBase):
    __tablename__ = "factories"

    factory_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    locate: Mapped[str] = mapped_column(String(100))
    # Who hears of production orders for this factory (seed 001); no e-mail while NULL.
    manager_email: Mapped[str | None] = mapped_column(String(254))


class Item(ShopBase):
    __tablename__ = "items"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),
                      CheckConstraint("price >= 0", name="price_not_negative"))

    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    # Units owed to waiting backorders: the sum of their quantities, kept in the same transaction
    # as every change to them, under this row's lock. A plain sale may take only quantity minus
    # this (the conditional decrement checks both in one statement).
    backordered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.factory_id"))

    factory: Mapped[Factory] = relationship(lazy="joined")
    reorder_rule: Mapped[ReorderRule | None] = relationship(lazy="joined")


class ReorderRule(ShopBase):
    """When and how much to replenish an item (Odoo's orderpoint, ERPNext's reorder level).

    A sale that leaves fewer than `reorder_point` units, or a purchase that finds too little
    stock, orders enough to bring stock plus what is already on its way up to `target_level`,
    rounded up to a multiple of `multiple`, and never less than the shortfall, but never more
    than `max_order_quantity` (NULL: 10 x target_level). Items without a row use
    `inventory_core.domain.stock.DEFAULT_RULE`."""

    __tablename__ = "reorder_rules"
    __table_args__ = (CheckConstraint("reorder_point >= 0", name="reorder_point_not_negative"),
                      CheckConstraint("target_level >= reorder_point", name="target_reaches_point"),
                      CheckConstraint("multiple >= 1", name="multiple_positive"),
                      CheckConstraint("policy IN ('manual', 'learned')", name="policy_known"),
                      CheckConstraint("max_order_quantity >= multiple",
                                      name="max_order_holds_a_multiple"))

    item_id: Mapped[int] = mapped_column(ForeignKey("items.item_id"), primary_key=True)
    reorder_point: Mapped[int] = mapped_column(Integer)
    target_level: Mapped[int] = mapped_column(Integer)
    multiple: Mapped[int] = mapped_column(Integer, default=1)
    max_order_quantity: Mapped[int | None] = mapped_column(Integer)
    # manual: the numbers above as typed in. learned: rewritten on a schedule from the item's
    # demand and its factory's lead times (inventory_core.service_layer.forecasting), with the
    # parameters below (NULL: the defaults of inventory_core.domain.forecast).
    policy: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    service_level: Mapped[float | None] = mapped_column(Float)
    window_days: Mapped[int | None] = mapped_column(Integer)
    review_days: Mapped[float | None] = mapped_column(Float)
    learned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last attempt
    learned_inputs: Mapped[dict | None] = mapped_column(JSON)  # what the numbers came from
    learned_note: Mapped[str | None] = mapped_column(String(200))  # why the last attempt did not


class Purchase(ShopBase):
    """Every purchase attempt: `completed` sold stock, `short` found too little and sold nothing,
    `backordered` waits for a restock (Backorder).

    No foreign key on item_id: a sale writes this row before it locks the item (adapters.sales),
    and InnoDB's check would take a shared lock on the item's row there, which two buyers then
    both try to upgrade (a deadlock). The row commits only in the transaction whose decrement or
    lock found the item, and items are never deleted."""

    __tablename__ = "purchases"

    purchase_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    requester: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    # The stock a purchase that sold nothing found, or a backorder's fill left. NULL for a sale
    # at the counter: it is written before the decrement, whose ledger row has the stock after.
    remaining: Mapped[int | None] = mapped_column(Integer)
    replenishment_order_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Backorder(ShopBase):
    """A purchase taken while stock was short (`"backorder": true`): nothing sold at once, the
    units are owed (items.backordered) and filled oldest first from the next restock, in the
    restock's own transaction, as a purchase with its ledger row.

    waiting -> filled (purchase_id set) | cancelled (by an operator)."""

    __tablename__ = "backorders"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),
                      CheckConstraint("status IN ('waiting', 'filled', 'cancelled')",
                                      name="status_known"),
                      Index("ix_backorders_item_status", "item_id", "status", "backorder_id"))

    backorder_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.item_id"))
    quantity: Mapped[int] = mapped_column(Integer)
    requester: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))  # told here when filled, if given
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    purchase_id: Mapped[int | None] = mapped_column(BigId)  # the sale that filled it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StockLedgerEntry(ShopBase):
    """One row per change of an item's quantity: the audit trail. Sum(delta) == items.quantity."""

    __tablename__ = "stock_ledger"

    entry_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.item_id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    quantity_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))  # opening | sale | restock | adjustment
    reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplenishmentOrder(ShopBase):
    """Stock asked of a factory. At most one open per item, enforced by the database:
    `open_item_id` equals item_id while the order is open and is NULL once it is closed, and a
    unique index allows many NULLs but one value (on MySQL and SQLite alike).

    Its status moves only as inventory_core.domain.replenishment allows. Its deadlines follow from
    `requested_at` (the latest request) and `due_at` (the factory's promise) and the configured
    timeouts, so the scheduled lifecycle check applies a changed timeout to every open order."""

    __tablename__ = "replenishment_orders"
    __table_args__ = (UniqueConstraint("open_item_id", name="one_open_per_item"),
                      CheckConstraint("quantity > 0", name="quantity_positive"),
                      CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})",
                                      name="status_known"))

    replenishment_order_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.item_id"), index=True)
    open_item_id: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # domain.replenishment.Status
    trigger: Mapped[str] = mapped_column(String(16))  # shortage | reorder_point
    requester: Mapped[str] = mapped_column(String(100))
    factory_reference: Mapped[str | None] = mapped_column(String(64))
    received_quantity: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How often the factory was asked (the first request included); bounded by configuration.
    request_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)  # latest
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the factory's, once accepted
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # cancelled or failed
    end_reason: Mapped[str | None] = mapped_column(String(200))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # operator told it stalled


class DeliveryAnomaly(ShopBase):
    """A `production.completed` that changed no stock because it matched no open order of its
    item: an unknown order, an order that has ended, another item, another production order, or
    more than was ordered. Shown on the dashboard and e-mailed to the operator."""

    __tablename__ = "delivery_anomalies"

    anomaly_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # domain.replenishment.Anomaly
    replenishment_order_id: Mapped[int | None] = mapped_column(BigId)  # as the event named it
    production_order_id: Mapped[int | None] = mapped_column(BigId)
    item_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DeadLetter(ShopBase):
    """A message that failed maxReceiveCount times and landed in a dead-letter queue."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("dlq", "message_id", name="once_per_message"),)

    dead_letter_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dlq: Mapped[str] = mapped_column(String(80))
    source_queue: Mapped[str] = mapped_column(String(80))
    message_id: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str | None] = mapped_column(String(36))
    event_type: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    receive_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="dead")  # dead | redriven
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Advertisement(ShopBase):
    """An item's advertisement (seed 001): paused while the item is out of stock, resumed when it
    comes back. One per item; its manager is e-mailed on every pause and resume."""

    __tablename__ = "advertisements"
    __table_args__ = (UniqueConstraint("item_id", name="one_ad_per_item"),
                      CheckConstraint("status IN ('active', 'paused')", name="status_known"))

    advertisement_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.item_id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paused
    manager_email: Mapped[str] = mapped_column(String(254))
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmailLog(ShopBase):
    """Every e-mail the notify consumer owes, written `pending` in the same transaction as the
    event that causes it, then claimed (`sending`) and sent through SES after commit, `sent` with
    SES's message id. Unique per (event, recipient): one e-mail per event however often the event
    is delivered."""

    __tablename__ = "email_log"
    __table_args__ = (UniqueConstraint("event_id", "recipient", name="once_per_event"),
                      CheckConstraint("status IN ('pending', 'sending', 'sent')",
                                      name="status_known"))

    email_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    ses_message_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lease of a `sending` row
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKey(ShopBase):
    """A client's `Idempotency-Key` on a purchase and the answer it got, written in the sale's own
    transaction: a retry with the same key and the same request is answered from here and sells
    nothing. The key is kept as its SHA-256 (exact, case-sensitive, fixed length whatever the
    client sends); rows older than a day are deleted by the shop's scheduled sweep."""

    __tablename__ = "idempotency_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))  # method, route and body: "the same"?
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)  # JSON, as first answered
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LoginAttempt(ShopBase):
    """One operator sign-in attempt, from which client and whether it succeeded: the rate limit
    counts a client's recent attempts (across every process and Lambda container); kept a day."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_client_time", "client", "attempted_at"),)

    attempt_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64))  # an IPv4 or IPv6 address
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ShopOutbox(OutboxMixin, ShopBase):
    pass


class ShopProcessedEvent(ProcessedEventMixin, ShopBase):
    pass
