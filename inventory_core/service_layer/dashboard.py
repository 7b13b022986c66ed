"""The operations dashboard's read model: the shop's state at a glance, as plain dicts.

One short read transaction. Only signed-in operators see it (shop_api.dashboard), and still
nothing secret is in it (no tokens, no URLs, no message bodies: a dead letter or a parked
outbox event shows its type, queue or topic and failure reason, not its payload; e-mail
addresses half-masked, buyers' names absent)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from inventory_core.adapters.models.common import iso, utcnow
from inventory_core.adapters.models.shop import (
    Advertisement,
    DeadLetter,
    EmailLog,
    Item,
    ReplenishmentOrder,
    ShopOutbox,
    StockLedgerEntry,
)
from inventory_core.adapters.outbox import parked_count, parked_rows, pending_count
from inventory_core.domain import replenishment
from inventory_core.domain.replenishment import Timeouts
from inventory_core.service_layer import replenishments, resources
from inventory_core.service_layer.backorders import waiting_by_item
from inventory_core.service_layer.dead_letters import failure_reason
from inventory_core.service_layer.unit_of_work import UnitOfWork

LEDGER_ROWS = 12
DEAD_LETTER_ROWS = 20
EMAIL_ROWS = 15
PARKED_ROWS = 20


def _age(now: datetime, since: datetime | None) -> int | None:
    return max(0, int((now - since).total_seconds())) if since else None


def mask_email(address: str | None) -> str | None:
    """Whose mailbox it is, not the address (a***@example.com): enough for an operator."""
    if not address or "@" not in address:
        return address
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def stock_level(quantity: int, reorder_point: int) -> str:
    """`out` at zero, `low` below the reorder point, `ok` otherwise."""
    if quantity <= 0:
        return "out"
    return "low" if quantity < reorder_point else "ok"


def dashboard_state(uow: UnitOfWork, now: datetime | None = None,
                    timeouts: Timeouts | None = None) -> dict:
    """`timeouts` (the configured deadlines) also show each open order's deadline."""
    now = now or utcnow()
    with uow:
        session = uow.session
        ads = {ad.item_id: ad for ad in session.scalars(select(Advertisement))}
        open_orders = list(session.scalars(
            select(ReplenishmentOrder).where(ReplenishmentOrder.open_item_id.is_not(None))
            .order_by(ReplenishmentOrder.created_at)))
        open_by_item = {order.item_id: order for order in open_orders}
        waiting = waiting_by_item(session, now)
        items = []
        for item in session.scalars(select(Item).order_by(Item.item_id)).unique():
            row = resources.ITEM.dump(item)
            ad, order = ads.get(item.item_id), open_by_item.get(item.item_id)
            backorders = waiting.get(item.item_id, {})
            items.append({**row, "level": stock_level(item.quantity, row["reorder_point"]),
                          "ad_status": ad.status if ad else None,
                          "on_order": order.quantity if order else 0,
                          "backorders_waiting": backorders.get("waiting", 0),
                          "backorder_oldest_age_seconds": backorders.get("oldest_age_seconds")})
        names = {i["item_id"]: i["name"] for i in items}
        open_rows = [{
            "replenishment_order_id": o.replenishment_order_id, "item_id": o.item_id,
            "item_name": names.get(o.item_id, str(o.item_id)), "quantity": o.quantity,
            "status": o.status, "trigger": o.trigger, "factory_reference": o.factory_reference,
            "created_at": iso(o.created_at), "age_seconds": _age(now, o.created_at),
            "accepted_at": iso(o.accepted_at), "request_count": o.request_count,
            "stalled": o.escalated_at is not None,
            "deadline": iso(replenishment.deadline(o.status, o.requested_at or o.created_at,
                                                   o.accepted_at, o.due_at, timeouts))
            if timeouts else None} for o in open_orders]
        paused = [{"item_id": ad.item_id, "item_name": names.get(ad.item_id, str(ad.item_id)),
                   "manager_email": mask_email(ad.manager_email), "paused_at": iso(ad.paused_at),
                   "paused_seconds": _age(now, ad.paused_at)}
                  for ad in sorted(ads.values(), key=lambda a: a.item_id) if ad.status == "paused"]
        ledger = [{"entry_id": e.entry_id, "item_id": e.item_id,
                   "item_name": names.get(e.item_id, str(e.item_id)), "delta": e.delta,
                   "quantity_after": e.quantity_after, "reason": e.reason,
                   "reference": e.reference, "created_at": iso(e.created_at)}
                  for e in session.scalars(select(StockLedgerEntry)
                                           .order_by(StockLedgerEntry.entry_id.desc())
                                           .limit(LEDGER_ROWS))]
        dead_letters = [{"dead_letter_id": d.dead_letter_id, "source_queue": d.source_queue,
                         "event_type": d.event_type, "event_id": d.event_id,
                         "failure_reason": failure_reason(d),
                         "receive_count": d.receive_count, "status": d.status,
                         "first_seen": iso(d.first_seen), "last_seen": iso(d.last_seen),
                         "redriven_at": iso(d.redriven_at)}
                        for d in session.scalars(select(DeadLetter)
                                                 .order_by(DeadLetter.status,  # dead first
                                                           DeadLetter.dead_letter_id.desc())
                                                 .limit(DEAD_LETTER_ROWS))]
        emails = [{"email_id": m.email_id, "event_type": m.event_type,
                   "recipient": mask_email(m.recipient),
                   "subject": m.subject, "status": m.status, "attempts": m.attempts,
                   "created_at": iso(m.created_at), "sent_at": iso(m.sent_at)}
                  for m in session.scalars(select(EmailLog).order_by(EmailLog.email_id.desc())
                                           .limit(EMAIL_ROWS))]
        email_counts = dict(session.execute(select(EmailLog.status, func.count())
                                            .group_by(EmailLog.status)).all())
        dead_count = session.scalar(select(func.count()).select_from(DeadLetter)
                                    .where(DeadLetter.status == "dead")) or 0
        outbox_pending = pending_count(session, ShopOutbox)
        outbox_parked = parked_count(session, ShopOutbox)
        parked = resources.OUTBOX_ROWS.dump(parked_rows(session, ShopOutbox, PARKED_ROWS))
    lifecycle = replenishments.counts(uow, timeouts, now)
    anomalies = replenishments.recent_anomalies(uow)
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "summary": {"items": len(items), "out_of_stock": sum(i["level"] == "out" for i in items),
                    "open_replenishments": len(open_rows), "ads_paused": len(paused),
                    "backorders_waiting": sum(w["waiting"] for w in waiting.values()),
                    "dead_letters": dead_count, "emails_sent": email_counts.get("sent", 0),
                    "emails_pending": sum(n for s, n in email_counts.items() if s != "sent"),
                    "outbox_pending": outbox_pending, "outbox_parked": outbox_parked,
                    "orders_failed": lifecycle["failed"], "orders_stalled": lifecycle["stalled"],
                    "orders_overdue": lifecycle["overdue"],
                    "delivery_anomalies": lifecycle["anomalies"]},
        "items": items, "replenishments": open_rows, "ads_paused": paused,
        "anomalies": anomalies,
        "ledger": ledger, "dead_letters": dead_letters, "emails": emails, "parked_events": parked,
    }
