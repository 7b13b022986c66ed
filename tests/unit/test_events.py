import json
import uuid

import pytest

from inventory_core.domain.events import InvalidEvent, new_event, parse_event

PAYLOAD = {"replenishment_order_id": 1, "item_id": 2, "item_name": "Item2", "factory_id": 2,
           "factory_name": "Factory2", "quantity": 8, "requester": "jeonghun",
           "trigger": "shortage"}


def test_round_trip_keeps_every_field():
    event = new_event("replenishment.requested", PAYLOAD, correlation_id="c-1")
    parsed = parse_event(event.to_json())
    assert parsed == event
    body = json.loads(event.to_json())
    assert set(body) == {"event_id", "type", "version", "occurred_at", "correlation_id", "payload"}


def test_new_event_refuses_an_invalid_payload():
    with pytest.raises(ValueError, match="payload invalid"):
        new_event("replenishment.requested", {**PAYLOAD, "quantity": 0})


@pytest.mark.parametrize("body", [
    "", "not json", "[]", "null", json.dumps({"type": "replenishment.requested"}),
    json.dumps({"event_id": str(uuid.uuid4()), "type": "nope", "version": 1, "occurred_at": "x",
                "payload": {}}),
    json.dumps({"event_id": "not-a-uuid", "type": "stock.depleted", "version": 1,
                "occurred_at": "x", "payload": {"item_id": 1, "item_name": "a", "quantity": 0}}),
    json.dumps({"event_id": str(uuid.uuid4()), "type": "stock.depleted", "version": 2,
                "occurred_at": "x", "payload": {"item_id": 1, "item_name": "a", "quantity": 0}}),
    json.dumps({"event_id": str(uuid.uuid4()), "type": "replenishment.requested", "version": 1,
                "occurred_at": "x", "payload": {**PAYLOAD, "quantity": "8"}}),
])
def test_malformed_or_unknown_messages_are_invalid_events_not_key_errors(body):
    with pytest.raises(InvalidEvent):
        parse_event(body)


def test_unexpected_type_is_rejected():
    event = new_event("stock.depleted", {"item_id": 1, "item_name": "Item1", "quantity": 0})
    with pytest.raises(InvalidEvent, match="unexpected"):
        parse_event(event.to_json(), expected_types=("production.completed",))
