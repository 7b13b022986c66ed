"""The replenishment order's state machine (inventory_core.domain.replenishment): every legal
edge, every refusal, and the decisions the lifecycle check and the delivery consumer take."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from inventory_core.domain.errors import Conflict
from inventory_core.domain.replenishment import (
    ENDED,
    OPEN,
    Action,
    Anomaly,
    Completion,
    Delivery,
    FactoryView,
    IllegalTransition,
    OrderEnded,
    OrderFacts,
    Status,
    Timeouts,
    after_missed_deadline,
    after_reconciling,
    deadline,
    judge_completion,
    next_status,
    sources,
)

LEGAL = {
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


@pytest.mark.parametrize("status, action", list(itertools.product(Status, Action)),
                         ids=lambda v: v.value)
def test_every_pair_of_status_and_action(status, action):
    if (status, action) in LEGAL:
        assert next_status(status.value, action.value, 7) is LEGAL[status, action]
        assert status.value in sources(action)
        return
    expected = OrderEnded if status in ENDED else IllegalTransition
    with pytest.raises(expected) as refused:
        next_status(status.value, action.value, 7)
    assert isinstance(refused.value, Conflict)  # the API answers 409 for it
    assert status.value not in sources(action)
    assert "Replenishment order 7 is " + status.value in str(refused.value)


def test_open_and_ended_split_the_statuses():
    assert set(Status) == OPEN | ENDED and not OPEN & ENDED
    assert all((s, Action.CANCEL) in LEGAL for s in OPEN)
    assert not any((s, a) in LEGAL for s in ENDED for a in Action)  # an ended order stays ended


def test_an_unknown_status_or_action_is_refused_not_guessed():
    with pytest.raises(IllegalTransition):
        next_status("lost", Action.ACCEPT)
    with pytest.raises(IllegalTransition):
        next_status("requested", "ship")


def test_deadlines_follow_the_latest_request_and_the_factorys_promise():
    t = Timeouts(accept_seconds=1800, max_requests=3, grace_seconds=900)
    asked = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    due = asked + timedelta(hours=2)
    assert deadline("requested", asked, None, None, t) == asked + timedelta(minutes=30)
    assert deadline("accepted", asked, asked, due, t) == due + timedelta(minutes=15)
    assert deadline("accepted", asked, asked, None, t) == asked + timedelta(minutes=15)
    assert deadline("fulfilled", asked, asked, due, t) is None


def test_a_missed_deadline_asks_again_a_bounded_number_of_times():
    assert [after_missed_deadline(n, 3) for n in (1, 2, 3, 4)] == [
        Action.RE_REQUEST, Action.RE_REQUEST, Action.FAIL, Action.FAIL]


@pytest.mark.parametrize("view, made, expected", [
    (FactoryView.MISSING, 1, Action.RE_REQUEST),
    (FactoryView.MISSING, 3, Action.FAIL),
    (FactoryView.OTHER_ORDER, 1, Action.RE_REQUEST),
    (FactoryView.CANCELLED, 1, Action.FAIL),
    (FactoryView.IN_PRODUCTION, 3, None),  # late, not lost
    (FactoryView.COMPLETED, 3, None),  # the completion is stuck on its way: escalate, keep open
])
def test_reconciling_an_overdue_order(view, made, expected):
    assert after_reconciling(view, made, 3) is expected


ORDER = OrderFacts(status="accepted", item_id=2, factory_id=2, quantity=8, factory_reference="41")


def completion(**changes) -> Completion:
    fields = {"replenishment_order_id": 5, "production_order_id": 41, "item_id": 2,
              "factory_id": 2, "quantity": 8, **changes}
    return Completion(**fields)


@pytest.mark.parametrize("order, claim, verdict", [
    (ORDER, completion(), Delivery.COMPLETE),
    (ORDER, completion(quantity=5), Delivery.SHORT),
    (ORDER, completion(quantity=8000), Anomaly.OVER_DELIVERY),
    (None, completion(), Anomaly.UNKNOWN_ORDER),
    (OrderFacts("fulfilled", 2, 2, 8, "41"), completion(), Anomaly.ORDER_ENDED),
    (OrderFacts("cancelled", 2, 2, 8, "41"), completion(), Anomaly.ORDER_ENDED),
    (ORDER, completion(item_id=1), Anomaly.WRONG_ITEM),
    (ORDER, completion(factory_id=1), Anomaly.WRONG_FACTORY),
    (ORDER, completion(production_order_id=42), Anomaly.WRONG_PRODUCTION_ORDER),
    # completed before the shop recorded the acceptance (a short lead time): still the order's
    (OrderFacts("requested", 2, 2, 8, None), completion(production_order_id=99),
     Delivery.COMPLETE),
])
def test_only_a_completion_matching_an_open_order_moves_stock(order, claim, verdict):
    assert judge_completion(order, claim) is verdict
