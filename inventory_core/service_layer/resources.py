"""Each resource's ONE output schema: what the services hand out (a dict dumped from the model),
what the APIs answer and document in OpenAPI (shop_api/schemas.py and factory_api/schemas.py use
these classes), and what the CLI prints. A field added here is added everywhere.

A schema dumps a model (its attributes of the fields' names, plus what `derived` computes) or a
dict an earlier dump made (unchanged: flask-smorest dumps a view's answer again with the route's
schema, and it must come out the same)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, pre_dump

from inventory_core.adapters.models.common import utcnow
from inventory_core.domain import replenishment
from inventory_core.domain.backorders import sellable


class IsoDateTime(fields.String):
    """A time as ISO 8601 text ("2026-01-01T00:00:10+00:00"); text is passed through. A String,
    so the OpenAPI document types it as one."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return value.isoformat()


def seed_datetime(value: datetime) -> str:
    """The seed's log timestamp: ISO UTC with milliseconds and a Z, "2023-05-18T09:46:48.000Z"."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class Resource(Schema):
    @pre_dump
    def _from_model(self, source: Any, **kwargs: Any) -> Mapping[str, Any]:
        if isinstance(source, Mapping):
            return source
        return self._values(source, {})

    def _values(self, model: Any, given: Mapping[str, Any]) -> dict[str, Any]:
        derived = {**self.derived(model), **given}
        return {**{name: getattr(model, name) for name in self.fields if name not in derived},
                **derived}

    def derived(self, model: Any) -> dict[str, Any]:
        """Fields that are not an attribute of the model of the same name."""
        return {}

    def dump_with(self, model: Any, **given: Any) -> dict[str, Any]:
        """Dump one model with fields its caller worked out (a queue position, a name it looked
        up with the other rows'), which neither the model nor `derived` holds."""
        return self.dump(self._values(model, given))


class ReplenishmentOrder(Resource):
    replenishment_order_id = fields.Integer()
    item_id = fields.Integer()
    quantity = fields.Integer()
    status = fields.String(metadata={"description": " | ".join(replenishment.STATUSES)
                                                    + " (docs/events.md: the lifecycle)"})
    trigger = fields.String(metadata={"description": "shortage | reorder_point"})
    requester = fields.String()
    factory_reference = fields.String(allow_none=True,
                                      metadata={"description": "the factory's production order"})
    received_quantity = fields.Integer(allow_none=True)
    request_count = fields.Integer(metadata={"description": "how often the factory was asked"})
    created_at = IsoDateTime()
    requested_at = IsoDateTime(metadata={"description": "the latest request"})
    accepted_at = IsoDateTime(allow_none=True)
    due_at = IsoDateTime(allow_none=True, metadata={"description": "the factory's due time"})
    fulfilled_at = IsoDateTime(allow_none=True)
    ended_at = IsoDateTime(allow_none=True, metadata={"description": "cancelled or failed at"})
    end_reason = fields.String(allow_none=True)

    def derived(self, model: Any) -> dict[str, Any]:
        return {"requested_at": model.requested_at or model.created_at}


class Item(Resource):
    item_id = fields.Integer()
    name = fields.String()
    price = fields.Integer()
    quantity = fields.Integer(metadata={"description": "on hand"})
    backordered = fields.Integer(metadata={"description": "owed to waiting backorders"})
    available = fields.Integer(metadata={"description": "what a purchase can take now: "
                                                        "on hand less backordered"})
    factory_id = fields.Integer()
    factory_name = fields.String()
    reorder_point = fields.Integer()
    target_level = fields.Integer()
    reorder_multiple = fields.Integer()
    max_order_quantity = fields.Integer(metadata={
        "description": "the most one replenishment order asks for, whatever the shortage "
                       "(default 10 x target_level)"})
    reorder_policy = fields.String(metadata={"description": "manual | learned"})
    learned = fields.Dict(allow_none=True, metadata={
        "description": "learned rules: the inputs (demand_mean/std per day, lead_time_mean/"
                       "std_days, samples, safety_stock, z) and parameters (window_days, "
                       "service_level, review_days), learned_at, and a note when the last run "
                       "had too little history"})

    def derived(self, model: Any) -> dict[str, Any]:
        from inventory_core.service_layer import forecasting  # it dumps with these
        from inventory_core.service_layer.shop_service import rule_of
        rule = rule_of(model)
        return {"available": sellable(model.quantity, model.backordered),
                "factory_name": model.factory.name, "reorder_point": rule.reorder_point,
                "target_level": rule.target_level, "reorder_multiple": rule.multiple,
                "max_order_quantity": rule.max_order,
                "reorder_policy": model.reorder_rule.policy if model.reorder_rule else "manual",
                "learned": forecasting.learned_view(model.reorder_rule)}


class DeadLetter(Resource):
    dead_letter_id = fields.Integer()
    dlq = fields.String()
    source_queue = fields.String()
    message_id = fields.String()
    event_id = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    body = fields.String()
    attributes = fields.Dict(metadata={"description": "message attributes, SQS send shape"})
    failure_reason = fields.String(allow_none=True,
                                   metadata={"description": "set when a consumer dead-lettered "
                                                            "it at once as permanently failed"})
    receive_count = fields.Integer()
    status = fields.String(metadata={"description": "dead | redriven"})
    first_seen = IsoDateTime()
    last_seen = IsoDateTime()
    redriven_at = IsoDateTime(allow_none=True)

    def derived(self, model: Any) -> dict[str, Any]:
        attributes = model.attributes or {}
        return {"attributes": attributes,
                "failure_reason": (attributes.get("failure_reason") or {}).get("StringValue")}


class Backorder(Resource):
    """No e-mail address: it is personal (operators see it masked on the dashboard).
    `item_name` and `position` are given by the caller (service_layer.backorders)."""
    backorder_id = fields.Integer()
    item_id = fields.Integer()
    item_name = fields.String(allow_none=True)
    quantity = fields.Integer()
    requester = fields.String()
    status = fields.String(metadata={"description": "waiting | filled | cancelled"})
    position = fields.Integer(allow_none=True, metadata={
        "description": "place in the item's queue while waiting: 1 is filled next"})
    purchase_id = fields.Integer(allow_none=True, metadata={"description": "the filling sale"})
    notify_by = fields.String(metadata={"description": "email | event"})
    created_at = IsoDateTime()
    filled_at = IsoDateTime(allow_none=True)
    cancelled_at = IsoDateTime(allow_none=True)
    age_seconds = fields.Integer(metadata={"description": "waited so far, or until it ended"})

    def derived(self, model: Any) -> dict[str, Any]:
        waited_until = model.filled_at or model.cancelled_at or utcnow()
        return {"notify_by": "email" if model.email else "event",
                "age_seconds": max(0, int((waited_until - model.created_at).total_seconds()))}


class OutboxRow(Resource):
    """An outbox row for operators: what it is and why it failed (its body is not shown)."""
    outbox_id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    destination = fields.String(metadata={"description": "topic key, or queue:<key>"})
    attempts = fields.Integer(metadata={"description": "publishing attempts since it was written "
                                                       "or last re-published"})
    last_error = fields.String(allow_none=True)
    created_at = IsoDateTime()
    next_attempt_at = IsoDateTime(allow_none=True)
    parked_at = IsoDateTime(allow_none=True,
                            metadata={"description": "set when the relays gave up on it"})
    published_at = IsoDateTime(allow_none=True)


class ProductionOrder(Resource):
    production_order_id = fields.Integer()
    replenishment_order_id = fields.Integer()
    factory_id = fields.Integer()
    item_id = fields.Integer()
    item_name = fields.String()
    quantity = fields.Integer()
    requester = fields.String()
    # factory_service.STATUSES (tests/unit/test_factory_service.py checks they agree)
    status = fields.String(metadata={"description": "in_production | completed | cancelled"})
    due_at = IsoDateTime()
    created_at = IsoDateTime()
    completed_at = IsoDateTime(allow_none=True)
    cancelled_at = IsoDateTime(allow_none=True)


class ProductionLog(Resource):
    """The seed's log shape, in its key order (GET /log answers exactly this)."""
    log_id = fields.Integer()
    factory_id = fields.Integer()
    factory_name = fields.String()
    item_id = fields.Integer()
    item_name = fields.String()
    quantity = fields.Integer()
    requester = fields.String()
    datetime = fields.String(metadata={"description": 'the seed\'s "2023-05-18T09:46:48.000Z"'})

    def derived(self, model: Any) -> dict[str, Any]:
        return {"datetime": seed_datetime(model.logged_at)}


ITEM, ITEMS = Item(), Item(many=True)
REPLENISHMENT, REPLENISHMENTS = ReplenishmentOrder(), ReplenishmentOrder(many=True)
DEAD_LETTER, DEAD_LETTERS = DeadLetter(), DeadLetter(many=True)
PRODUCTION_ORDER, PRODUCTION_ORDERS = ProductionOrder(), ProductionOrder(many=True)
LOG, LOGS = ProductionLog(), ProductionLog(many=True)
BACKORDER = Backorder()
OUTBOX_ROW, OUTBOX_ROWS = OutboxRow(), OutboxRow(many=True)
