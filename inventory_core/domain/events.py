"""Event envelopes and their schemas.

Every message is `{event_id, type, version, occurred_at, correlation_id, payload}` (see
docs/events.md). `parse_event` validates the envelope and the payload of its type, so a malformed
or unknown message fails with `InvalidEvent`, never with a KeyError deep in a handler.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inventory_core.domain.errors import InvalidEvent
from inventory_core.domain.marshmallow_import import import_marshmallow

import_marshmallow()  # before marshmallow's first import: its e-mail patterns compiled on use
from marshmallow import Schema, ValidationError, fields, missing, validate  # noqa: E402

MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class Event:
    type: str
    payload: dict[str, Any]
    version: int = 1
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    correlation_id: str | None = None

    def to_json(self) -> str:
        return json.dumps({"event_id": self.event_id, "type": self.type, "version": self.version,
                           "occurred_at": self.occurred_at,
                           "correlation_id": self.correlation_id or self.event_id,
                           "payload": self.payload}, ensure_ascii=False, separators=(",", ":"))


# Field options shared by the schemas below (marshmallow's keyword arguments).
_quantity: dict[str, Any] = {"required": True, "strict": True,
                             "validate": validate.Range(min=1, max=MAX_QUANTITY)}
_id: dict[str, Any] = {"required": True, "strict": True, "validate": validate.Range(min=1)}
_name: dict[str, Any] = {"required": True, "validate": validate.Length(min=1, max=100)}


class _OrderEvent(Schema):
    """What every event about one replenishment order names."""
    replenishment_order_id = fields.Integer(**_id)
    item_id = fields.Integer(**_id)
    item_name = fields.String(**_name)
    factory_id = fields.Integer(**_id)
    factory_name = fields.String(**_name)
    quantity = fields.Integer(**_quantity)


class ReplenishmentRequested(_OrderEvent):
    requester = fields.String(**_name)
    trigger = fields.String(required=True,
                            validate=validate.OneOf(["shortage", "reorder_point", "backorder"]))


_reason: dict[str, Any] = {"required": True, "validate": validate.Length(min=1, max=200)}


class ReplenishmentCancelled(_OrderEvent):
    requester = fields.String(**_name)
    reason = fields.String(**_reason)


class ReplenishmentFailed(_OrderEvent):
    request_count = fields.Integer(**_id)
    reason = fields.String(**_reason)


class ReplenishmentStalled(_OrderEvent):
    factory_status = fields.String(required=True, validate=validate.Length(min=1, max=32))
    reason = fields.String(**_reason)


class DeliveryAnomaly(Schema):
    """A `production.completed` that changed no stock (see domain.replenishment.Anomaly)."""
    anomaly_id = fields.Integer(**_id)
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    completion_event_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    replenishment_order_id = fields.Integer(required=True, strict=True, allow_none=True)
    production_order_id = fields.Integer(required=True, strict=True, allow_none=True)
    item_id = fields.Integer(required=True, strict=True)
    quantity = fields.Integer(required=True, strict=True)
    detail = fields.String(required=True, validate=validate.Length(min=1, max=300))


class ProductionCompleted(Schema):
    production_order_id = fields.Integer(**_id)
    replenishment_order_id = fields.Integer(**_id)
    factory_id = fields.Integer(**_id)
    item_id = fields.Integer(**_id)
    item_name = fields.String(**_name)
    quantity = fields.Integer(**_quantity)
    completed_at = fields.String(required=True)


class ProductionDue(Schema):
    production_order_id = fields.Integer(**_id)


class StockChanged(Schema):
    item_id = fields.Integer(**_id)
    item_name = fields.String(**_name)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class BackorderCancelled(Schema):
    backorder_id = fields.Integer(**_id)
    item_id = fields.Integer(**_id)
    item_name = fields.String(**_name)
    quantity = fields.Integer(**_quantity)
    requester = fields.String(**_name)


class BackorderFilled(BackorderCancelled):
    purchase_id = fields.Integer(**_id)  # the sale that filled it


PAYLOAD_SCHEMAS: dict[str, type[Schema]] = {
    "replenishment.requested": ReplenishmentRequested,
    "replenishment.cancelled": ReplenishmentCancelled,
    "replenishment.failed": ReplenishmentFailed,
    "replenishment.stalled": ReplenishmentStalled,
    "delivery.anomaly": DeliveryAnomaly,
    "production.completed": ProductionCompleted,
    "production.due": ProductionDue,
    "stock.depleted": StockChanged,
    "stock.restocked": StockChanged,
    "backorder.filled": BackorderFilled,
    "backorder.cancelled": BackorderCancelled,
}


class Envelope(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(sorted(PAYLOAD_SCHEMAS)))
    version = fields.Integer(required=True, strict=True, validate=validate.Equal(1))
    occurred_at = fields.String(required=True)
    correlation_id = fields.String(load_default=None, allow_none=True)
    payload = fields.Dict(required=True)


# One instance of each schema, made once: making one copies its fields (most of what validating
# a small event costs), and loading or validating keeps no state on the instance.
_ENVELOPE = Envelope()
_PAYLOADS = {event_type: schema() for event_type, schema in PAYLOAD_SCHEMAS.items()}


def _field_by_field(schema: Schema) -> Callable[[Any], dict[str, Any] | None] | None:
    """A load with `unknown="exclude"` that runs each field's own deserialize (its type, its
    validators, its default) but not Schema.load's machinery around them, which costs as much
    again: every message a consumer takes is parsed (issue 12). None for an invalid input: the
    caller then asks Schema.load, whose errors say why. Only for a schema with no hooks and no
    renamed fields, where the two are the same (tests/unit/test_events.py compares them)."""
    hooks = getattr(schema, "_hooks", None)
    fields_ = list(schema.load_fields.items())
    if hooks is None or any(hooks.values()) or any(
            field.data_key not in (None, name) or field.attribute not in (None, name)
            for name, field in fields_):
        return None

    def load(data: Any) -> dict[str, Any] | None:
        if type(data) is not dict:
            return None
        loaded: dict[str, Any] = {}
        try:
            for name, field in fields_:
                value = field.deserialize(data.get(name, missing), name, data)
                if value is not missing:
                    loaded[name] = value
        except ValidationError:
            return None
        return loaded
    return load


_FAST = {schema: fast for schema in (_ENVELOPE, *_PAYLOADS.values())
         if (fast := _field_by_field(schema)) is not None}


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    fast = _FAST.get(schema)
    loaded = fast(data) if fast is not None else None
    return loaded if loaded is not None else schema.load(data, unknown="exclude")


def parse_event(body: str | bytes, expected_types: tuple[str, ...] | None = None) -> Event:
    """Validate a message body; raise InvalidEvent with the reason when it is not one of ours."""
    try:
        raw = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidEvent("an event is a JSON object")
    try:
        envelope = _load(_ENVELOPE, raw)
        payload = _load(_PAYLOADS[envelope["type"]], envelope["payload"])
    except ValidationError as exc:
        raise InvalidEvent(f"invalid event: {exc.messages}") from None
    if expected_types and envelope["type"] not in expected_types:
        raise InvalidEvent(f"unexpected event type {envelope['type']!r}")
    return Event(type=envelope["type"], payload=payload, version=envelope["version"],
                 event_id=str(envelope["event_id"]), occurred_at=envelope["occurred_at"],
                 correlation_id=envelope["correlation_id"])


def new_event(event_type: str, payload: dict[str, Any], correlation_id: str | None = None) -> Event:
    """An event whose payload is checked against its schema before it enters any outbox."""
    schema = _PAYLOADS[event_type]
    fast = _FAST.get(schema)
    errors = None if fast is not None and fast(payload) is not None else schema.validate(payload)
    if errors:
        raise ValueError(f"{event_type} payload invalid: {errors}")
    return Event(type=event_type, payload=payload, correlation_id=correlation_id)
