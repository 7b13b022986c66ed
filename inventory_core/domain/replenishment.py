"""The life of a replenishment order, as one state machine: pure rules, no I/O.

```
requested ──accept──► accepted ──receive──► fulfilled
   │  ▲                  │
   │  └──── re_request ──┘   (not accepted in time; the factory lost it)
   ├──────── receive ───────────────────────► fulfilled  (the completion beat the acceptance)
   ├─ cancel / fail ─► cancelled / failed ◄── cancel / fail ─┘
```

`requested` and `accepted` are open: the item has this order on its way and opens no other.
`fulfilled`, `cancelled` and `failed` have ended: nothing moves an ended order again, so a late
acceptance, a second completion or a cancel after delivery is refused here, in one place
(`next_status`, or `sources` for a conditional UPDATE that must match only legal rows).

What a completion does to an open order (`delivery_outcome`):
- exactly what remains on order: `complete`; stocked, the order is fulfilled;
- less (a short delivery): `short`; what arrived is stocked, the order is fulfilled with its
  received quantity, and the reorder rule orders again at once if stock is still below its
  reorder point (the factory produces an order in one batch: the rest is not coming);
- more than was ordered: `over`; nothing is stocked (a message cannot prove goods arrived), an
  anomaly is recorded for the operator, who books a counted surplus as a stock adjustment.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from inventory_core.domain.errors import Conflict


class Status(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Action(StrEnum):
    ACCEPT = "accept"  # the factory took the order
    RE_REQUEST = "re_request"  # ask the factory again (no acceptance in time, or it lost it)
    RECEIVE = "receive"  # a matching completion arrived and was stocked
    CANCEL = "cancel"  # an operator cancelled it
    FAIL = "fail"  # it will not complete: retries exhausted, or the factory refuses it


INITIAL = Status.REQUESTED
OPEN = frozenset({Status.REQUESTED, Status.ACCEPTED})
ENDED = frozenset({Status.FULFILLED, Status.CANCELLED, Status.FAILED})
STATUSES = tuple(s.value for s in Status)

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.REQUESTED, Action.ACCEPT): Status.ACCEPTED,
    (Status.REQUESTED, Action.RE_REQUEST): Status.REQUESTED,
    (Status.ACCEPTED, Action.RE_REQUEST): Status.REQUESTED,
    (Status.REQUESTED, Action.RECEIVE): Status.FULFILLED,
    (Status.ACCEPTED, Action.RECEIVE): Status.FULFILLED,
    (Status.REQUESTED, Action.CANCEL): Status.CANCELLED,
    (Status.ACCEPTED, Action.CANCEL): Status.CANCELLED,
    (Status.REQUESTED, Action.FAIL): Status.FAILED,
    (Status.ACCEPTED, Action.FAIL): Status.FAILED,
}


class IllegalTransition(Conflict):
    """The order's status does not allow this action."""

    def __init__(self, order_id: int | None, status: str, action: str):
        self.order_id, self.status, self.action = order_id, status, action
        name = f"Replenishment order {order_id}" if order_id is not None else "The order"
        super().__init__(f"{name} is {status}; it cannot {action.replace('_', '-')}.")


class OrderEnded(IllegalTransition):
    """The order has already ended (fulfilled, cancelled or failed): nothing moves it again."""


def next_status(current: str, action: Action | str, order_id: int | None = None) -> Status:
    """The status `action` leads to from `current`; IllegalTransition (OrderEnded for an ended
    order) when the machine has no such edge."""
    try:
        status, act = Status(current), Action(action)
    except ValueError:
        raise IllegalTransition(order_id, str(current), str(action)) from None
    target = TRANSITIONS.get((status, act))
    if target is None:
        error = OrderEnded if status in ENDED else IllegalTransition
        raise error(order_id, status.value, act.value)
    return target


def sources(action: Action | str) -> tuple[str, ...]:
    """Every status `action` may start from: the WHERE of a conditional UPDATE, so a concurrent
    change that got there first makes it match no row instead of breaking the machine."""
    act = Action(action)
    return tuple(sorted(s.value for (s, a) in TRANSITIONS if a is act))


def is_open(status: str) -> bool:
    return status in OPEN


# --- deadlines and the decisions the lifecycle check takes ---------------------------------------

@dataclass(frozen=True)
class Timeouts:
    accept_seconds: int  # a request not accepted within this is asked again (or failed)
    max_requests: int  # requests per order, the first included
    grace_seconds: int  # an accepted order this long past the factory's due time is reconciled


def deadline(status: str, requested_at: datetime, accepted_at: datetime | None,
             due_at: datetime | None, timeouts: Timeouts) -> datetime | None:
    """When an order needs looking at: its latest request plus the acceptance timeout while
    requested; the factory's due time (or, unknown, its acceptance) plus grace once accepted;
    None once it has ended."""
    if status == Status.REQUESTED:
        return requested_at + timedelta(seconds=timeouts.accept_seconds)
    if status == Status.ACCEPTED:
        promised = due_at or accepted_at or requested_at
        return promised + timedelta(seconds=timeouts.grace_seconds)
    return None


class Delivery(StrEnum):
    COMPLETE = "complete"
    SHORT = "short"
    OVER = "over"


def delivery_outcome(ordered: int, arriving: int) -> Delivery:
    """How a completion of `arriving` units compares with an open order of `ordered` units."""
    if arriving > ordered:
        return Delivery.OVER
    return Delivery.SHORT if arriving < ordered else Delivery.COMPLETE


def after_missed_deadline(requests_made: int, max_requests: int) -> Action:
    """An open order past its deadline (not accepted in time, or lost by the factory): ask again
    while fewer than `max_requests` requests were made, else give up."""
    return Action.RE_REQUEST if requests_made < max_requests else Action.FAIL


class FactoryView(StrEnum):
    """What the factory's own record says of an accepted order past its due time plus grace."""
    MISSING = "missing"  # it has no such production order: lost
    IN_PRODUCTION = "in_production"  # late but alive: wait until its new due time
    COMPLETED = "completed"  # produced, yet no completion reached the shop: stalled
    CANCELLED = "cancelled"  # the factory will not produce it
    OTHER_ORDER = "other_order"  # the id names another replenishment's order: lost to us


def after_reconciling(view: FactoryView, requests_made: int, max_requests: int) -> Action | None:
    """What to do with an overdue accepted order given the factory's record. None: keep it open
    (late production, or a completion stuck on its way that an operator can redrive)."""
    if view in (FactoryView.MISSING, FactoryView.OTHER_ORDER):
        return after_missed_deadline(requests_made, max_requests)
    if view is FactoryView.CANCELLED:
        return Action.FAIL
    return None


# --- completions: which one may move stock -----------------------------------------------------

class Anomaly(StrEnum):
    """Why a completion changed no stock."""
    UNKNOWN_ORDER = "unknown_order"  # no such replenishment order
    ORDER_ENDED = "order_ended"  # fulfilled, cancelled or failed already
    WRONG_ITEM = "wrong_item"  # the order is for another item
    WRONG_FACTORY = "wrong_factory"  # the item is made by another factory
    WRONG_PRODUCTION_ORDER = "wrong_production_order"  # the factory accepted it under another id
    OVER_DELIVERY = "over_delivery"  # more than the order asked for


@dataclass(frozen=True)
class OrderFacts:
    """What the shop knows of the order a completion names."""
    status: str
    item_id: int
    factory_id: int  # the item's factory
    quantity: int
    factory_reference: str | None  # the factory's production order id, once accepted


@dataclass(frozen=True)
class Completion:
    """What a `production.completed` claims."""
    replenishment_order_id: int
    production_order_id: int
    item_id: int
    factory_id: int
    quantity: int


def judge_completion(order: OrderFacts | None, completion: Completion) -> Delivery | Anomaly:
    """A completion moves stock only for an open order of the same item, from that item's factory,
    under the production order the factory accepted (when the shop heard of it yet: a short lead
    time can complete before the acceptance is recorded), and for no more than was ordered."""
    if order is None:
        return Anomaly.UNKNOWN_ORDER
    if order.status not in OPEN:
        return Anomaly.ORDER_ENDED
    if order.item_id != completion.item_id:
        return Anomaly.WRONG_ITEM
    if order.factory_id != completion.factory_id:
        return Anomaly.WRONG_FACTORY
    if (order.factory_reference is not None
            and order.factory_reference != str(completion.production_order_id)):
        return Anomaly.WRONG_PRODUCTION_ORDER
    outcome = delivery_outcome(order.quantity, completion.quantity)
    return Anomaly.OVER_DELIVERY if outcome is Delivery.OVER else outcome
