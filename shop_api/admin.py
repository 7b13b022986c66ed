"""Admin routes, for operators only (api_common.auth.admin_required: the admin bearer token, or a
signed-in dashboard session with its CSRF token). The seed's stock update was open to all."""
from __future__ import annotations

from flask_smorest import Blueprint

from api_common.auth import admin_required
from api_common.context import messaging, unit_of_work
from inventory_core.service_layer import (
    backorders,
    dead_letters,
    parked_events,
    replenishments,
    shop_service,
)
from shop_api import schemas

blp = Blueprint("admin", __name__, url_prefix="/admin",
                description="Operations (admin bearer token or operator session)")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


@blp.post("/items/<id:item_id>/stock-adjustments")
@blp.arguments(schemas.StockAdjustment)
@blp.response(200, schemas.StockLevel)
@blp.doc(security=BEARER)
@admin_required
def adjust_stock(body: dict, item_id: int):
    quantity = shop_service.adjust_stock(unit_of_work(), item_id, body["delta"], body["reason"])
    return {"item_id": item_id, "quantity": quantity}


@blp.post("/backorders/<id:backorder_id>/cancel")
@blp.response(200, schemas.Backorder)
@blp.alt_response(404, description="No such backorder")
@blp.alt_response(409, description="Filled or cancelled already")
@blp.doc(security=BEARER)
@admin_required
def cancel_backorder(backorder_id: int):
    """Cancel a waiting backorder: its units are no longer owed (a plain sale may take them).
    404 and 409 (filled or cancelled already) come from the domain's errors."""
    return backorders.cancel(unit_of_work(), backorder_id)


@blp.put("/items/<id:item_id>/reorder-rule")
@blp.arguments(schemas.ReorderRuleUpdate)
@blp.response(200, schemas.Item)
@blp.alt_response(404, description="No such item")
@blp.doc(security=BEARER)
@admin_required
def set_reorder_rule(body: dict, item_id: int):
    """Set the item's rule: `manual` with its numbers, or `learned` (learned at once and then
    hourly from its demand and its factory's lead times; docs/demand.md)."""
    return shop_service.set_reorder_rule(unit_of_work(), item_id,
                                         shop_service.RuleSettings(**body))


@blp.get("/dead-letters")
@blp.arguments(schemas.DeadLetterQuery, location="query")
@blp.response(200, schemas.DeadLetter(many=True))
@blp.doc(security=BEARER)
@admin_required
def list_dead_letters(query: dict):
    """Messages that landed in a dead-letter queue, newest first."""
    return dead_letters.list_dead_letters(unit_of_work(), query.get("status"), query["limit"])


@blp.get("/dead-letters/<id:dead_letter_id>")
@blp.response(200, schemas.DeadLetter)
@blp.alt_response(404, description="No such dead letter")
@blp.doc(security=BEARER)
@admin_required
def get_dead_letter(dead_letter_id: int):
    return dead_letters.get_dead_letter(unit_of_work(), dead_letter_id)


@blp.post("/dead-letters/<id:dead_letter_id>/redrive")
@blp.response(200, schemas.DeadLetter)
@blp.alt_response(404, description="No such dead letter")
@blp.alt_response(409, description="Already redriven")
@blp.doc(security=BEARER)
@admin_required
def redrive_dead_letter(dead_letter_id: int):
    """Send the message back to its source queue."""
    return dead_letters.redrive(unit_of_work(), messaging(), dead_letter_id)


@blp.post("/dead-letters/redrive")
@blp.arguments(schemas.RedriveAllRequest, required=False)
@blp.response(200, schemas.RedriveResult)
@blp.doc(security=BEARER)
@admin_required
def redrive_all(body: dict | None = None):
    """Send every dead letter still `dead` back to its source queue."""
    redriven = dead_letters.redrive_all(unit_of_work(), messaging(),
                                        (body or {}).get("source_queue"))
    return {"redriven": len(redriven), "dead_letters": redriven}


@blp.get("/outbox/parked")
@blp.arguments(schemas.ParkedQuery, location="query")
@blp.response(200, schemas.OutboxRow(many=True))
@blp.doc(security=BEARER)
@admin_required
def list_parked_events(query: dict):
    """Events the outbox relays gave up on (OUTBOX_MAX_ATTEMPTS), oldest first, with their last
    error."""
    return parked_events.list_parked(unit_of_work(), query["limit"])


@blp.post("/outbox/<id:outbox_id>/republish")
@blp.response(200, schemas.OutboxRow)
@blp.alt_response(404, description="No such outbox row")
@blp.alt_response(409, description="Not parked (published, or still with the sweep)")
@blp.doc(security=BEARER)
@admin_required
def republish_event(outbox_id: int):
    """Publish a parked event now, with a fresh set of attempts (if it fails again, the sweep
    retries it)."""
    return parked_events.republish(unit_of_work(), messaging(), outbox_id)


@blp.post("/outbox/republish")
@blp.response(200, schemas.RepublishResult)
@blp.doc(security=BEARER)
@admin_required
def republish_all_events():
    """Publish every parked event now."""
    return parked_events.republish_all(unit_of_work(), messaging())


@blp.post("/replenishment-orders/<id:replenishment_order_id>/cancel")
@blp.arguments(schemas.CancelRequest, required=False)
@blp.response(200, schemas.ReplenishmentOrder, description="Cancelled: the item may reorder at "
                                                           "once; the factory is asked to stop")
@blp.alt_response(404, description="No such replenishment order")
@blp.alt_response(409, description="It has already ended (fulfilled, cancelled or failed)")
@blp.doc(security=BEARER)
@admin_required
def cancel_replenishment(body: dict | None, replenishment_order_id: int):
    """Cancel an open replenishment order (docs/events.md: the lifecycle)."""
    reason = (body or {}).get("reason") or "cancelled by an operator"
    return replenishments.cancel(unit_of_work(), replenishment_order_id, reason)
