"""The REST API: production orders, accepted at once and completed after the lead time."""
from __future__ import annotations

from flask_smorest import Blueprint

from api_common import privacy, settings_of
from api_common.context import unit_of_work
from factory_api import schemas
from factory_api.auth import WRITER_ONLY
from inventory_core.service_layer import factory_service

blp = Blueprint("factory", __name__, description="Production orders")


@blp.post("/production-orders")
@blp.arguments(schemas.ProductionOrderRequest)
@blp.response(201, schemas.ProductionOrder, description="Accepted; production has started")
@blp.alt_response(200, schema=schemas.ProductionOrder,
                  description="Already accepted for this replenishment order; nothing new")
@blp.alt_response(404, description="No such factory")
@blp.alt_response(409, description="The replenishment id is taken by an order with another "
                                   "factory, item or quantity; nothing changed")
@blp.alt_response(401, description="Not signed by the factory writer; nothing was written")
@blp.alt_response(403, description="Signed, but not by the factory writer; nothing was written")
@blp.doc(security=WRITER_ONLY)
def accept_production_order(body: dict):
    order, created = factory_service.accept_production_order(
        unit_of_work(), lead_time_override=settings_of().production_seconds, **body)
    return order, 201 if created else 200


@blp.post("/production-orders/cancel")
@blp.arguments(schemas.ProductionOrderRequest)
@blp.response(200, schemas.ProductionOrder, description="Cancelled (or cancelled before): "
                                                        "nothing more is produced for it")
@blp.alt_response(409, description="Already produced, or the id names an order with other terms")
@blp.alt_response(404, description="No such factory")
@blp.alt_response(401, description="Not signed by the factory writer; nothing was written")
@blp.alt_response(403, description="Signed, but not by the factory writer; nothing was written")
@blp.doc(security=WRITER_ONLY)
def cancel_production_order(body: dict):
    """The shop cancelled its replenishment order: stop what is not produced yet. Names the
    order as the request did; a cancel that overtakes its request is kept, and the request then
    produces nothing."""
    order, _ = factory_service.cancel_production_order(unit_of_work(), **body)
    return order


@blp.get("/production-orders")
@blp.arguments(schemas.ProductionOrderQuery, location="query")
@blp.response(200, schemas.ProductionOrder(many=True))
def list_production_orders(query: dict):
    """Requesters in full for operators only (masked: "j***")."""
    return privacy.all_for_caller(factory_service.list_production_orders(
        unit_of_work(), query.get("status"), query["limit"]))


@blp.get("/production-orders/<id:production_order_id>")
@blp.response(200, schemas.ProductionOrder)
@blp.alt_response(404, description="No such production order")
def get_production_order(production_order_id: int):
    return privacy.for_caller(factory_service.get_production_order(unit_of_work(),
                                                                   production_order_id))


@blp.get("/health")
def health():
    return {"status": "ok"}
