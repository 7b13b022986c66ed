"""The seed's routes, with its exact JSON shapes and messages, so its curl calls keep working."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from api_common.context import unit_of_work
from api_common.errors import error_response, json_response
from inventory_core.service_layer import shop_service
from shop_api import idempotency
from shop_api.schemas import SeedPurchase

blp = Blueprint("seed", __name__)
SEED_ITEM_FIELDS = ("item_id", "name", "price", "quantity", "factory_id")
SEED_PURCHASE = SeedPurchase()  # made once, not per purchase (it keeps no state between loads)


@blp.get("/item")
def list_items():
    items = shop_service.list_items(unit_of_work())
    return jsonify([{field: item[field] for field in SEED_ITEM_FIELDS} for item in items])


@blp.post("/item")
def buy():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "The request body must be a JSON object.", seed_shape=True)
    try:
        order = SEED_PURCHASE.load(body)
    except ValidationError as exc:
        return error_response(400, "Invalid purchase request.", seed_shape=True,
                              errors=exc.messages)
    try:
        keyed = idempotency.keyed_request(order)
    except idempotency.InvalidKey as exc:
        return error_response(400, str(exc), seed_shape=True)
    args = (order["item_name"], order["quantity"], order["requester"])
    try:
        if keyed is None:
            return json_response(*seed_answer(shop_service.purchase(unit_of_work(), *args)))
        return idempotency.answered(
            shop_service.purchase_once(unit_of_work(), keyed, seed_answer, *args))
    except shop_service.ItemNotFound:
        return error_response(400, "상품 없음", seed_shape=True)
    except shop_service.KeyReused as exc:
        return error_response(422, str(exc), seed_shape=True)


def seed_answer(result: shop_service.PurchaseResult) -> tuple[int, dict]:
    """The seed's messages, 200 either way."""
    if result.completed:
        return 200, {"message": f"구매 완료! 남은 재고: {result.remaining}"}
    return 200, {"message": f"구매 실패! 남은 재고: {result.remaining}, 생산요청 진행중"}
