"""Request and response schemas of the shop API (marshmallow; they also make the OpenAPI doc).
Each resource's output schema is inventory_core.service_layer.resources' (the services dump
with it too)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api_common.validation import ID, NAME, QUANTITY, Text
from inventory_core.domain.events import MAX_QUANTITY
from inventory_core.domain.replenishment import STATUSES
from inventory_core.service_layer.resources import (  # the routes' output schemas, re-exported
    DeadLetter as DeadLetter,
)
from inventory_core.service_layer.resources import Item as Item
from inventory_core.service_layer.resources import ReplenishmentOrder as ReplenishmentOrder


class SeedPurchase(Schema):
    """The seed's `POST /item` body."""
    item_name = Text(required=True, validate=NAME)
    quantity = fields.Integer(required=True, strict=True, validate=QUANTITY)
    requester = Text(required=True, validate=NAME)


class PurchaseRequest(Schema):
    item_id = fields.Integer(strict=True, validate=ID)
    item_name = Text(validate=NAME)
    quantity = fields.Integer(required=True, strict=True, validate=QUANTITY)
    requester = Text(required=True, validate=NAME,
                     metadata={"description": "Trimmed; no control characters."})

    @validates_schema
    def one_item_reference(self, data, **kwargs):
        if ("item_id" in data) == ("item_name" in data):
            raise ValidationError("Give exactly one of item_id and item_name.", "item_id")


class PurchaseResult(Schema):
    purchase_id = fields.Integer()
    item_id = fields.Integer()
    item_name = fields.String()
    quantity = fields.Integer()
    remaining = fields.Integer()
    replenishment_order = fields.Nested(ReplenishmentOrder, allow_none=True,
                                        attribute="replenishment")


class Shortage(Schema):
    message = fields.String()
    purchase_id = fields.Integer()
    requested = fields.Integer()
    available = fields.Integer()
    replenishment_order = fields.Nested(ReplenishmentOrder)


class ReplenishmentQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class StockAdjustment(Schema):
    delta = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=-MAX_QUANTITY, max=MAX_QUANTITY))
    reason = Text(required=True, validate=validate.Length(min=1, max=90))


class StockLevel(Schema):
    item_id = fields.Integer()
    quantity = fields.Integer()


class DeadLetterQuery(Schema):
    status = fields.String(validate=validate.OneOf(["dead", "redriven"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class RedriveAllRequest(Schema):
    source_queue = fields.String(validate=validate.Length(min=1, max=80),
                                 metadata={"description": "only this source queue's dead letters"})


class RedriveResult(Schema):
    redriven = fields.Integer()
    dead_letters = fields.Nested(DeadLetter, many=True)
