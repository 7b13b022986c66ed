"""Every request field's limit is its column's (issue 10): a text field's maximum length is the
column's length, an id's maximum the column's integer range. Read from the schemas and the models
themselves, and every limited field of every request schema must be listed here, so a new field
or a changed column cannot drift apart unnoticed. (tests/fuzz runs the values on MariaDB.)"""
from __future__ import annotations

import pytest
from marshmallow import Schema, validate
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import InstrumentedAttribute

from api_common.validation import BIGINT_MAX, INT_MAX
from factory_api import schemas as factory
from inventory_core.adapters.models import factory as factory_models
from inventory_core.adapters.models import shop as shop_models
from shop_api import schemas as shop

# (schema, field) -> the columns its value is stored in or compared with
COLUMNS: dict[tuple[type[Schema], str], list[InstrumentedAttribute]] = {
    (shop.SeedPurchase, "item_name"): [shop_models.Item.name],
    (shop.SeedPurchase, "requester"): [shop_models.Purchase.requester,
                                       shop_models.ReplenishmentOrder.requester],
    (shop.PurchaseRequest, "item_id"): [shop_models.Item.item_id],
    (shop.PurchaseRequest, "item_name"): [shop_models.Item.name],
    (shop.PurchaseRequest, "requester"): [shop_models.Purchase.requester,
                                          shop_models.ReplenishmentOrder.requester,
                                          shop_models.Backorder.requester],
    (shop.PurchaseRequest, "email"): [shop_models.Backorder.email],
    (shop.RedriveAllRequest, "source_queue"): [shop_models.DeadLetter.source_queue],
    (factory.SeedLog, "factory_id"): [factory_models.ProductionLog.factory_id],
    (factory.SeedLog, "factory_name"): [factory_models.ProductionLog.factory_name],
    (factory.SeedLog, "item_id"): [factory_models.ProductionLog.item_id],
    (factory.SeedLog, "item_name"): [factory_models.ProductionLog.item_name],
    (factory.SeedLog, "requester"): [factory_models.ProductionLog.requester],
    (factory.ProductionOrderRequest, "replenishment_order_id"): [
        factory_models.ProductionOrder.replenishment_order_id],
    (factory.ProductionOrderRequest, "factory_id"): [factory_models.ProductionOrder.factory_id],
    (factory.ProductionOrderRequest, "item_id"): [factory_models.ProductionOrder.item_id],
    (factory.ProductionOrderRequest, "item_name"): [factory_models.ProductionOrder.item_name,
                                                    factory_models.ProductionLog.item_name],
    (factory.ProductionOrderRequest, "requester"): [factory_models.ProductionOrder.requester,
                                                    factory_models.ProductionLog.requester],
    (factory.ProductionOrderRequest, "correlation_id"): [
        factory_models.ProductionOrder.correlation_id],
}
# The ledger's reference is "admin:" + reason, cut to the column: shorter on purpose.
SHORTER_ON_PURPOSE = {(shop.StockAdjustment, "reason")}
REQUEST_SCHEMAS = [shop.SeedPurchase, shop.PurchaseRequest, shop.StockAdjustment,
                   shop.RedriveAllRequest, factory.SeedLog, factory.ProductionOrderRequest]


def limit(schema: type[Schema], name: str, kind: type) -> int | None:
    found = [v.max for v in schema._declared_fields[name].validators if isinstance(v, kind)]
    return found[0] if found else None


def column_limit(column: InstrumentedAttribute) -> int:
    column_type = column.property.columns[0].type
    for variant in (column_type, *getattr(column_type, "_variant_mapping", {}).values()):
        if isinstance(variant, BigInteger):
            return BIGINT_MAX
    if isinstance(column_type, Integer):
        return INT_MAX
    assert isinstance(column_type, String) and column_type.length, column
    return column_type.length


@pytest.mark.parametrize("schema,name", sorted(COLUMNS, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: getattr(v, "__name__", v))
def test_the_field_limit_is_the_columns(schema, name):
    limits = {column_limit(column) for column in COLUMNS[schema, name]}
    assert len(limits) == 1, f"{schema.__name__}.{name} goes into columns of different sizes"
    [expected] = limits
    kind = validate.Length if isinstance(expected, int) and expected < INT_MAX else validate.Range
    assert limit(schema, name, kind) == expected


def test_every_limited_request_field_is_checked():
    limited = {(schema, name) for schema in REQUEST_SCHEMAS
               for name, field in schema._declared_fields.items()
               if any(isinstance(v, (validate.Length, validate.Range)) for v in field.validators)
               and name not in ("quantity", "delta")}  # the domain's range, not a column's
    assert limited - SHORTER_ON_PURPOSE == set(COLUMNS)
