"""Seed 001's notifications: pause an item's advertisement when it runs out and resume it when it
comes back, e-mailing the ad manager each time; e-mail the factory manager of every production
order the shop asks for; e-mail a backorder's requester when it is filled or cancelled, where they
gave an address.

Exactly one e-mail per event however often SQS delivers it, in two steps:
1. `record_event`, ONE transaction: record the event as processed by "notify", change the ad, and
   write the e-mails it owes as `pending` rows (unique per event and recipient). A redelivery finds
   the event recorded and changes nothing.
2. `send_pending`, after commit: claim each unsent row of the event with a conditional UPDATE
   (`pending` -> `sending`, with a short lease), so of concurrent duplicates only one sends it; send
   it through the Mailer (SES); mark it `sent` with SES's message id. An SES error puts the row
   back to `pending` and raises, so the message is redelivered (and dead-lettered after
   maxReceiveCount); the redelivery sends only what is still unsent.
The one window left is a crash between SES accepting a message and the row being marked sent:
after the lease that e-mail is sent again. SES has no idempotency key, so at-least-once is the
best any design can do there; everywhere else it is exactly once.

Events can arrive out of order (SQS standard queues). The ad follows the item's stock as it is
now, not the event's claim: a stale `stock.depleted` arriving after a newer restock finds stock
above zero and pauses nothing (and a stale `stock.restocked` finds it at zero and resumes nothing).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import and_, or_, select, update

from inventory_core.adapters.db import rows_matched
from inventory_core.adapters.idempotency import first_delivery
from inventory_core.adapters.models.common import utcnow
from inventory_core.adapters.models.shop import (
    Advertisement,
    Backorder,
    EmailLog,
    Factory,
    Item,
    ShopProcessedEvent,
)
from inventory_core.domain.events import Event
from inventory_core.domain.text import one_line
from inventory_core.service_layer.unit_of_work import UnitOfWork, retry_transient

log = logging.getLogger(__name__)
CONSUMER = "notify"
EVENT_TYPES = ("stock.depleted", "stock.restocked", "replenishment.requested",
               "replenishment.cancelled", "replenishment.failed", "replenishment.stalled",
               "delivery.anomaly", "backorder.filled", "backorder.cancelled")
# A `sending` row whose sender vanished (a crash, a Lambda timeout) can be claimed again after
# this; longer than one SES call with its retries (see messaging.STANDARD).
CLAIM_SECONDS = 30


class Mailer(Protocol):
    def send_email(self, sender: str, to: str, subject: str, body: str) -> str:
        """Send one e-mail; the provider's message id. Raise on failure."""


class EmailNotSent(RuntimeError):
    """Some e-mail of the event is still unsent (SES failed, or another delivery is sending it
    right now): the message must come back later. `errors` are the mailer's exceptions, so the
    consumer can tell a permanent refusal or throttling from a passing failure."""

    def __init__(self, message: str, errors: tuple[BaseException, ...] = ()):
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class Email:
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class NotifyResult:
    recorded: bool  # False: the event had been recorded before (a redelivery); nothing changed
    ad_change: str | None  # "paused" | "resumed" | None
    sent: int  # e-mails this call sent


# --- step 1: one transaction ------------------------------------------------------------------

@retry_transient
def record_event(uow: UnitOfWork, event: Event,
                 operator: str | None = None) -> tuple[bool, str | None]:
    """Record `event` once: its ad change and its e-mails (pending). (recorded, ad change).
    `operator`: who is told of failed or stalled orders and delivery anomalies (OPERATOR_EMAIL;
    None: nobody, and a warning says so)."""
    if event.type not in EVENT_TYPES:
        raise ValueError(f"notify does not handle {event.type!r}")
    with uow:
        session = uow.session
        if not first_delivery(session.connection(), ShopProcessedEvent, CONSUMER,
                              event.event_id):
            return False, None
        ad_change, emails = PLANNERS[event.type](session, event, operator)
        for email in emails:
            # Plain text only (the Mailer sends no HTML); a subject is one line whatever the
            # names in it hold.
            session.add(EmailLog(event_id=event.event_id, event_type=event.type,
                                 recipient=email.recipient, subject=one_line(email.subject)[:200],
                                 body=email.body, status="pending"))
        uow.commit()
    if ad_change:
        log.info("%s %s: advertisement of item %s %s", event.type, event.event_id,
                 event.payload["item_id"], ad_change)
    return True, ad_change


def _locked_ad(session, item_id: int) -> Advertisement | None:
    # Lock the ad first, then read the stock: a pause and a resume of one item serialise here,
    # and each sees the stock as the other left it (READ COMMITTED re-reads per statement).
    return session.scalar(select(Advertisement).where(Advertisement.item_id == item_id)
                          .with_for_update())


def _stock_of(session, item_id: int) -> int | None:
    return session.scalar(select(Item.quantity).where(Item.item_id == item_id))


def _on_depleted(session, event: Event, _operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    ad = _locked_ad(session, p["item_id"])
    if ad is None or ad.status == "paused":
        return None, []
    stock = _stock_of(session, p["item_id"])
    if stock is None or stock > 0:
        log.info("stock.depleted %s is stale: item %s has %s in stock now; ad left active",
                 event.event_id, p["item_id"], stock)
        return None, []
    ad.status, ad.paused_at = "paused", utcnow()
    return "paused", [Email(
        ad.manager_email,
        f"[Ad paused] {p['item_name']} is out of stock",
        f"{p['item_name']} (item {p['item_id']}) ran out of stock at {event.occurred_at}.\n"
        f"Its advertisement has been paused, so nobody is sent to a product we cannot sell.\n"
        f"It resumes by itself when stock comes back; a replenishment order is on its way.\n\n"
        f"Event: {event.event_id}\n")]


def _on_restocked(session, event: Event, _operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    ad = _locked_ad(session, p["item_id"])
    if ad is None or ad.status == "active":
        return None, []
    stock = _stock_of(session, p["item_id"])
    if not stock:
        log.info("stock.restocked %s is stale: item %s is out of stock now; ad left paused",
                 event.event_id, p["item_id"])
        return None, []
    ad.status, ad.resumed_at = "active", utcnow()
    return "resumed", [Email(
        ad.manager_email,
        f"[Ad resumed] {p['item_name']} is back in stock",
        f"{p['item_name']} (item {p['item_id']}) is back in stock ({stock} units) as of "
        f"{event.occurred_at}.\nIts advertisement is running again.\n\n"
        f"Event: {event.event_id}\n")]


REASONS = {"shortage": "a purchase found too little stock",
           "reorder_point": "stock fell below its reorder point",
           "backorder": "buyers are waiting for it (backorders)"}


def _to_factory_manager(session, event: Event, subject: str,
                        body: str) -> tuple[str | None, list[Email]]:
    """The e-mail to the manager of the order's factory; none if it has no address."""
    factory = session.get(Factory, event.payload["factory_id"])
    if factory is None or not factory.manager_email:
        return None, []
    return None, [Email(factory.manager_email, subject, f"{body}\n\nEvent: {event.event_id}\n")]


def _on_replenishment_requested(session, event: Event,
                                _operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    return _to_factory_manager(session, event,
        f"[Production order] {p['quantity']} x {p['item_name']} "
        f"(replenishment {p['replenishment_order_id']})",
        f"The shop has asked {p['factory_name']} to produce {p['quantity']} x {p['item_name']} "
        f"(item {p['item_id']}).\n"
        f"Replenishment order: {p['replenishment_order_id']}\n"
        f"Reason: {REASONS.get(p['trigger'], p['trigger'])}\n"
        f"Requested by: {one_line(p['requester'])}\n"
        f"Requested at: {event.occurred_at}")


def _on_replenishment_cancelled(session, event: Event,
                                _operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    return _to_factory_manager(session, event,
        f"[Production order cancelled] {p['quantity']} x {p['item_name']} "
        f"(replenishment {p['replenishment_order_id']})",
        f"The shop has cancelled its order of {p['quantity']} x {p['item_name']} "
        f"(item {p['item_id']}) from {p['factory_name']}.\n"
        f"Replenishment order: {p['replenishment_order_id']}\n"
        f"Reason: {one_line(p['reason'])}\n"
        f"Whatever is not produced yet will not be; a completion sent anyway is not stocked.")


def _to_operator(operator: str | None, event: Event, subject: str,
                 body: str) -> tuple[str | None, list[Email]]:
    if not operator:
        log.warning("%s %s: no OPERATOR_EMAIL is configured, so nobody is e-mailed: %s",
                    event.type, event.event_id, subject)
        return None, []
    return None, [Email(operator, subject, f"{body}\n\nEvent: {event.event_id}\n")]


def _on_replenishment_failed(session, event: Event,
                             operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    return _to_operator(operator, event,
        f"[Replenishment failed] {p['quantity']} x {p['item_name']} "
        f"(replenishment {p['replenishment_order_id']})",
        f"Replenishment order {p['replenishment_order_id']} ({p['quantity']} x {p['item_name']}, "
        f"item {p['item_id']}, from {p['factory_name']}) has failed after "
        f"{p['request_count']} request(s).\nReason: {one_line(p['reason'])}\n"
        f"The item is free again: its next shortage or reorder point opens a new order.\n"
        f"Check the factory (and the order queue's dead letters on the dashboard).")


def _on_replenishment_stalled(session, event: Event,
                              operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    return _to_operator(operator, event,
        f"[Replenishment stalled] {p['quantity']} x {p['item_name']} "
        f"(replenishment {p['replenishment_order_id']})",
        f"Replenishment order {p['replenishment_order_id']} ({p['quantity']} x {p['item_name']}, "
        f"item {p['item_id']}, from {p['factory_name']}) is overdue; the factory reports it "
        f"{p['factory_status']}.\nWhy it stalled: {one_line(p['reason'])}\n"
        f"It stays open. Redrive its completion from the dead letters, or cancel it on the "
        f"dashboard to free the item for a new order.")


def _on_delivery_anomaly(session, event: Event, operator=None) -> tuple[str | None, list[Email]]:
    p = event.payload
    return _to_operator(operator, event,
        f"[Delivery anomaly] {p['kind']}: {p['quantity']} x item {p['item_id']}",
        f"A production completion changed no stock: {one_line(p['detail'])}.\n"
        f"Kind: {p['kind']}; completion event {p['completion_event_id']}; anomaly "
        f"{p['anomaly_id']}.\nIf goods did arrive, count them and book them with a stock "
        f"adjustment; otherwise find out who sent it.")


def _requester_email(session, event: Event) -> str | None:
    backorder = session.get(Backorder, event.payload["backorder_id"])
    return backorder.email if backorder is not None else None


def _on_backorder_filled(session, event: Event,
                         _operator=None) -> tuple[str | None, list[Email]]:
    """The requester's notice, where they gave an address (else the event itself is the notice:
    the backorder-events topic)."""
    p, to = event.payload, _requester_email(session, event)
    if not to:
        return None, []
    return None, [Email(
        to, f"[Backorder filled] {p['quantity']} x {p['item_name']}",
        f"Hello {one_line(p['requester'])},\n\n"
        f"Your backorder {p['backorder_id']} for {p['quantity']} x {p['item_name']} has been "
        f"filled from new stock: it is now purchase {p['purchase_id']}.\n"
        f"Filled at: {event.occurred_at}\n\nEvent: {event.event_id}\n")]


def _on_backorder_cancelled(session, event: Event,
                            _operator=None) -> tuple[str | None, list[Email]]:
    p, to = event.payload, _requester_email(session, event)
    if not to:
        return None, []
    return None, [Email(
        to, f"[Backorder cancelled] {p['quantity']} x {p['item_name']}",
        f"Hello {one_line(p['requester'])},\n\n"
        f"Your backorder {p['backorder_id']} for {p['quantity']} x {p['item_name']} was "
        f"cancelled by the shop; nothing was charged or sold.\n"
        f"Cancelled at: {event.occurred_at}\n\nEvent: {event.event_id}\n")]


PLANNERS = {"stock.depleted": _on_depleted, "stock.restocked": _on_restocked,
            "replenishment.requested": _on_replenishment_requested,
            "replenishment.cancelled": _on_replenishment_cancelled,
            "replenishment.failed": _on_replenishment_failed,
            "replenishment.stalled": _on_replenishment_stalled,
            "delivery.anomaly": _on_delivery_anomaly,
            "backorder.filled": _on_backorder_filled,
            "backorder.cancelled": _on_backorder_cancelled}


# --- step 2: after commit, send what is owed ----------------------------------------------------

def send_pending(uow: UnitOfWork, mailer: Mailer, sender: str, event_id: str) -> int:
    """Send every unsent e-mail of `event_id` once; how many this call sent. Raises EmailNotSent
    when any is left unsent (after trying them all)."""
    sent, problems, errors = 0, [], []
    for email_id in _unsent_ids(uow, event_id):
        email = _claim(uow, email_id)
        if email is None:
            if _status(uow, email_id) != "sent":
                problems.append(f"e-mail {email_id} is being sent by another delivery")
            continue
        try:
            message_id = mailer.send_email(sender, email.recipient, email.subject, email.body)
        except Exception as exc:  # noqa: BLE001 - any SES failure: keep it pending, retry later
            log.warning("e-mail %s to %s failed: %s", email_id, email.recipient, exc)
            _release(uow, email_id, f"{exc.__class__.__name__}: {exc}"[:500])
            problems.append(f"e-mail {email_id} to {email.recipient}: {exc}")
            errors.append(exc)
            continue
        _mark_sent(uow, email_id, message_id)
        sent += 1
    if problems:
        raise EmailNotSent("; ".join(problems), tuple(errors))
    return sent


def _unsent_ids(uow: UnitOfWork, event_id: str) -> list[int]:
    with uow:
        return list(uow.session.scalars(
            select(EmailLog.email_id).where(EmailLog.event_id == event_id,
                                            EmailLog.status != "sent")
            .order_by(EmailLog.email_id)))


def _status(uow: UnitOfWork, email_id: int) -> str | None:
    with uow:
        return uow.session.scalar(select(EmailLog.status).where(EmailLog.email_id == email_id))


@retry_transient
def _claim(uow: UnitOfWork, email_id: int) -> Email | None:
    now = utcnow()
    with uow:
        session = uow.session
        # Conditional claim: of two deliveries racing for a row, exactly one gets rowcount 1.
        won = rows_matched(session,
            update(EmailLog).where(EmailLog.email_id == email_id)
            .where(or_(EmailLog.status == "pending",
                       and_(EmailLog.status == "sending", EmailLog.claimed_until < now)))
            .values(status="sending", claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                    attempts=EmailLog.attempts + 1)
            .execution_options(synchronize_session=False)) == 1
        if not won:
            return None
        row = session.get_one(EmailLog, email_id)  # ours since the claim above
        email = Email(row.recipient, row.subject, row.body)
        uow.commit()
    return email


@retry_transient
def _release(uow: UnitOfWork, email_id: int, error: str) -> None:
    with uow:
        uow.session.execute(update(EmailLog).where(EmailLog.email_id == email_id,
                                                   EmailLog.status == "sending")
                            .values(status="pending", claimed_until=None, last_error=error)
                            .execution_options(synchronize_session=False))
        uow.commit()


@retry_transient
def _mark_sent(uow: UnitOfWork, email_id: int, ses_message_id: str) -> None:
    with uow:
        uow.session.execute(update(EmailLog).where(EmailLog.email_id == email_id)
                            .values(status="sent", ses_message_id=ses_message_id[:100],
                                    sent_at=utcnow(), claimed_until=None, last_error=None)
                            .execution_options(synchronize_session=False))
        uow.commit()


# --- the use case the consumer calls -------------------------------------------------------------

def handle_event(uow: UnitOfWork, mailer: Mailer, sender: str, event: Event,
                 operator: str | None = None) -> NotifyResult:
    """Apply one stock or replenishment event: at most once for its effects, and its e-mails
    exactly once (see the module docstring). Raises EmailNotSent for a retry."""
    recorded, ad_change = record_event(uow, event, operator)
    if not recorded:
        log.info("%s %s was recorded before; sending only what is still unsent",
                 event.type, event.event_id)
    sent = send_pending(uow, mailer, sender, event.event_id)
    log.info("%s for item %s: ad %s, %d e-mail(s) sent", event.type,
             event.payload.get("item_id"), ad_change or "unchanged", sent)
    return NotifyResult(recorded, ad_change, sent)
