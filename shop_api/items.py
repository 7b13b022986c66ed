"""The REST API: items, purchases and replenishment orders."""
from __future__ import annotations

import dataclasses
import functools

from flask_smorest import Blueprint

from api_common import auth, privacy
from api_common.context import unit_of_work
from api_common.errors import error_response, json_response
from inventory_core.service_layer import backorders, shop_service
from shop_api import idempotency, schemas

blp = Blueprint("shop", __name__, description="Items, purchases and replenishment orders")
# Made once: a marshmallow schema copies its declared fields when it is made, a cost each
# purchase would otherwise pay (they keep no state between loads and dumps).
PURCHASE_REQUEST = schemas.PurchaseRequest()
SOLD, BACKORDERED, SHORT = schemas.PurchaseResult(), schemas.BackorderPlaced(), schemas.Shortage()


@blp.get("/items")
@blp.response(200, schemas.Item(many=True))
def list_items():
    return shop_service.list_items(unit_of_work())


@blp.get("/items/<id:item_id>")
@blp.response(200, schemas.Item)
@blp.alt_response(404, description="No such item")
def get_item(item_id: int):
    return shop_service.get_item(unit_of_work(), item_id)


@blp.post("/purchases")
@blp.arguments(PURCHASE_REQUEST)
@blp.response(201, SOLD)
@blp.alt_response(202, schema=BACKORDERED,
                  description='Too little stock and "backorder": true: a waiting backorder')
@blp.alt_response(409, schema=SHORT, description="Too little stock; nothing was sold")
@blp.alt_response(404, description="No such item")
@blp.alt_response(400, description="A malformed Idempotency-Key")
@blp.doc(parameters=[idempotency.HEADER_DOC])
def create_purchase(body: dict):
    """Buy; with an `Idempotency-Key`, a retry gets the first answer and buys nothing more."""
    item = body["item_name"] if "item_name" in body else body["item_id"]
    answer = functools.partial(purchase_answer, operator=auth.is_operator())
    backorder = (shop_service.Backordering(body.get("email")) if body["backorder"] else None)
    try:
        keyed = idempotency.keyed_request(body)
    except idempotency.InvalidKey as exc:
        return error_response(400, str(exc))
    # No such item (404) and a reused key (422): api_common.errors answers the domain's refusals.
    if keyed is None:
        return json_response(*answer(shop_service.purchase(
            unit_of_work(), item, body["quantity"], body["requester"], backorder)))
    return idempotency.answered(shop_service.purchase_once(
        unit_of_work(), keyed, answer, item, body["quantity"], body["requester"], backorder))


def purchase_answer(result: shop_service.PurchaseResult, operator: bool) -> tuple[int, dict]:
    """201 and what was sold, or 409 and the shortage: the answer a keyed retry gets again. The
    replenishment order's requester may be another buyer: masked unless `operator`."""
    if result.replenishment is not None:  # most sales answer no order: nothing to mask
        result = dataclasses.replace(
            result, replenishment=privacy.for_caller(result.replenishment, operator))
    if result.completed:
        return 201, SOLD.dump(result)
    if result.backorder is not None:  # the requester's own backorder: their name in full
        placed = {**result.backorder, "replenishment_order": result.replenishment}
        return 202, BACKORDERED.dump(placed)
    shortage = {"message": "Too little stock; a replenishment order is in progress.",
                "purchase_id": result.purchase_id, "requested": result.quantity,
                "available": result.remaining, "replenishment_order": result.replenishment}
    return 409, SHORT.dump(shortage)


@blp.get("/replenishment-orders")
@blp.arguments(schemas.ReplenishmentQuery, location="query")
@blp.response(200, schemas.ReplenishmentOrder(many=True))
def list_replenishments(query: dict):
    """Requesters in full for operators only (masked: "j***")."""
    return privacy.all_for_caller(shop_service.list_replenishments(
        unit_of_work(), query.get("status"), query["limit"]))


@blp.get("/replenishment-orders/<id:replenishment_order_id>")
@blp.response(200, schemas.ReplenishmentOrder)
@blp.alt_response(404, description="No such replenishment order")
def get_replenishment(replenishment_order_id: int):
    return privacy.for_caller(shop_service.get_replenishment(unit_of_work(),
                                                             replenishment_order_id))


@blp.get("/backorders")
@blp.arguments(schemas.BackorderQuery, location="query")
@blp.response(200, schemas.Backorder(many=True))
def list_backorders(query: dict):
    """Oldest first, the order they are filled in. Requesters in full for operators only."""
    return privacy.all_for_caller(backorders.list_backorders(
        unit_of_work(), query.get("item_id"), query.get("status"), query["limit"]))


@blp.get("/backorders/<id:backorder_id>")
@blp.response(200, schemas.Backorder)
@blp.alt_response(404, description="No such backorder")
def get_backorder(backorder_id: int):
    return privacy.for_caller(backorders.get_backorder(unit_of_work(), backorder_id))


@blp.get("/health")
def health():
    return {"status": "ok"}
