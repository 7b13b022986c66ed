"""Request and response schemas of the shop API (marshmallow; they also make the OpenAPI doc).
Each resource's output schema is inventory_core.service_layer.resources' (the services dump
with it too)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api_common.validation import EMAIL_LENGTH, ID, NAME, QUANTITY, StrictBoolean, Text
from inventory_core.domain.events import MAX_QUANTITY
from inventory_core.domain.replenishment import STATUSES
from inventory_core.service_layer.resources import (  # the routes' output schemas, re-exported
    Backorder as Backorder,
)
from inventory_core.service_layer.resources import DeadLetter as DeadLetter
from inventory_core.service_layer.resources import Item as Item
from inventory_core.service_layer.resources import OutboxRow as OutboxRow
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
    backorder = StrictBoolean(load_default=False, metadata={
        "description": "When stock is short, take the order anyway (202): it is filled from "
                       "the next restock, oldest first. Without it a shortage answers 409."})
    email = fields.Email(validate=validate.Length(max=EMAIL_LENGTH), metadata={
        "description": "With backorder: e-mailed (plain text) when it is filled. Without it the "
                       "requester learns of it from the backorder.filled event."})

    @validates_schema
    def one_item_reference(self, data, **kwargs):
        if ("item_id" in data) == ("item_name" in data):
            raise ValidationError("Give exactly one of item_id and item_name.", "item_id")
        if "email" in data and not data.get("backorder"):
            raise ValidationError("An e-mail address is only for a backorder.", "email")


class PurchaseResult(Schema):
    purchase_id = fields.Integer()
    item_id = fields.Integer()
    item_name = fields.String()
    quantity = fields.Integer()
    remaining = fields.Integer()
    replenishment_order = fields.Nested(ReplenishmentOrder, allow_none=True,
                                        attribute="replenishment")


class BackorderPlaced(Backorder):
    replenishment_order = fields.Nested(ReplenishmentOrder, allow_none=True)


class BackorderQuery(Schema):
    item_id = fields.Integer(strict=False, validate=ID)
    status = fields.String(validate=validate.OneOf(["waiting", "filled", "cancelled"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


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


class CancelRequest(Schema):
    reason = Text(validate=validate.Length(min=1, max=150),
                  metadata={"description": "why (kept with the order; the factory is told)"})


class ReorderRuleUpdate(Schema):
    policy = fields.String(required=True, validate=validate.OneOf(["manual", "learned"]))
    reorder_point = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_QUANTITY))
    target_level = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    multiple = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    service_level = fields.Float(validate=validate.Range(min=0.5, max=0.999), metadata={
        "description": "learned: chance of no stock-out in a replenishment cycle (0.95)"})
    window_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=365), metadata={
        "description": "learned: days of sales to learn demand from (28)"})
    review_days = fields.Float(validate=validate.Range(min=0, max=90), metadata={
        "description": "learned: the target adds this many days of demand (7)"})

    @validates_schema
    def numbers_fit_the_policy(self, data, **kwargs):
        numbers = [name for name in ("reorder_point", "target_level") if name in data]
        if data.get("policy") == "manual":
            if len(numbers) < 2:
                raise ValidationError("A manual rule needs reorder_point and target_level.",
                                      "target_level")
            if data["target_level"] < data["reorder_point"]:
                raise ValidationError("target_level must reach reorder_point.", "target_level")
        elif numbers:
            raise ValidationError("A learned rule's numbers are learned, not set.", numbers[0])


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


class ParkedQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class RepublishResult(Schema):
    republished = fields.Integer(metadata={"description": "parked rows given a fresh set of "
                                                          "attempts"})
    published = fields.Integer(metadata={"description": "of those, published at once (the rest "
                                                        "are back with the sweep)"})
    outbox = fields.Nested(OutboxRow, many=True)
