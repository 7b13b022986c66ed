"""The REST API: production orders, accepted at once and completed after the lead time."""
from __future__ import annotations

from flask_smorest import Blueprint

from api_common import privacy, settings_of
from api_common.context import unit_of_work
from api_common.errors import error_response
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
@blp.alt_response(401, description="Not signed by the factory writer; nothing was written")
@blp.alt_response(403, description="Signed, but not by the factory writer; nothing was written")
@blp.doc(security=WRITER_ONLY)
def accept_production_order(body: dict):
    order, created = factory_service.accept_production_order(
        unit_of_work(), lead_time_override=settings_of().production_seconds, **body)
    return order, 201 if created else 200


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
    order = factory_service.get_production_order(unit_of_work(), production_order_id)
    if order is None:
        return error_response(404, f"Production order {production_order_id} does not exist.")
    return privacy.for_caller(order)


@blp.get("/health")
def health():
    return {"status": "ok"}
