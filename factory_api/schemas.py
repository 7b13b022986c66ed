"""Request and response schemas of the factory API (marshmallow; they also make the OpenAPI doc)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api_common.validation import BIG_ID, CORRELATION_ID, ID, NAME, QUANTITY, Text
from inventory_core.service_layer.factory_service import STATUSES
from inventory_core.service_layer.resources import (  # the routes' output schema, re-exported
    ProductionOrder as ProductionOrder,
)


class SeedLog(Schema):
    """The seed's `POST /log` body."""
    factory_id = fields.Integer(required=True, strict=True, validate=ID)
    factory_name = Text(required=True, validate=NAME)
    item_id = fields.Integer(required=True, strict=True, validate=ID)
    item_name = Text(required=True, validate=NAME)
    quantity = fields.Integer(required=True, strict=True, validate=QUANTITY)
    requester = Text(required=True, validate=NAME)


class ProductionOrderRequest(Schema):
    replenishment_order_id = fields.Integer(
        required=True, strict=True, validate=BIG_ID,
        metadata={"description": "The shop's replenishment order: one production order each."})
    factory_id = fields.Integer(required=True, strict=True, validate=ID)
    item_id = fields.Integer(required=True, strict=True, validate=ID)
    item_name = Text(required=True, validate=NAME)
    quantity = fields.Integer(required=True, strict=True, validate=QUANTITY)
    requester = Text(required=True, validate=NAME)
    correlation_id = fields.String(load_default=None, allow_none=True, validate=CORRELATION_ID)


class ProductionOrderQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
