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


# The field-by-field load (events._FAST) must answer what Schema.load answers: the same data for
# a valid input, and None (then Schema.load raises) for an invalid one.
SAMPLES = {
    "replenishment.requested": PAYLOAD,
    "production.completed": {"production_order_id": 5, "replenishment_order_id": 1,
                             "factory_id": 2, "item_id": 2, "item_name": "Item2", "quantity": 8,
                             "completed_at": "2026-01-01T00:00:00.000"},
    "stock.restocked": {"item_id": 1, "item_name": "Item1", "quantity": 0},
    "delivery.anomaly": {"anomaly_id": 1, "kind": "unknown_order", "completion_event_id": "e",
                         "replenishment_order_id": None, "production_order_id": 7, "item_id": 1,
                         "quantity": 3, "detail": "no such order"},
}
ODD_VALUES = [None, True, False, 0, -1, 1.5, 2.0, 10 ** 7, "", "8", "x" * 301, [], {}, "Item1"]


def _mutations(sample: dict):
    yield sample
    yield {**sample, "unknown": 1}
    for name in sample:
        yield {k: v for k, v in sample.items() if k != name}
        for odd in ODD_VALUES:
            yield {**sample, name: odd}


def _agree(schema, data) -> None:
    from marshmallow import ValidationError

    from inventory_core.domain.events import _FAST
    fast = _FAST[schema](data)
    try:
        loaded = schema.load(data, unknown="exclude")
    except ValidationError:
        assert fast is None, data
    else:
        assert fast == loaded, data
        assert list(fast) == list(loaded)  # the same order too: the payload is sent on as it is


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_the_field_by_field_load_agrees_with_marshmallow(event_type):
    from inventory_core.domain.events import _ENVELOPE, _PAYLOADS
    for data in _mutations(SAMPLES[event_type]):
        _agree(_PAYLOADS[event_type], data)
    envelope = json.loads(new_event(event_type, SAMPLES[event_type]).to_json())
    for data in [*_mutations(envelope), {**envelope, "event_id": "not-a-uuid"},
                 {**envelope, "type": "nope"}, {**envelope, "version": 2}, [envelope]]:
        _agree(_ENVELOPE, data)
