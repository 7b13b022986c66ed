"""The seed's routes, with its exact JSON shapes, so its curl calls and order-lambda keep
working."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import EXCLUDE, ValidationError

from api_common import privacy
from api_common.context import unit_of_work
from api_common.errors import error_response
from factory_api.schemas import SeedLog
from inventory_core.service_layer import factory_service

blp = Blueprint("seed", __name__)
MAX_LOGS = 10_000


@blp.get("/log")
def list_logs():
    limit = request.args.get("limit", type=int)
    if limit is not None and not 1 <= limit <= MAX_LOGS:
        return error_response(400, f"limit must be from 1 to {MAX_LOGS}.", seed_shape=True)
    # The seed's shape, key for key; the requester masked unless the caller is an operator.
    return jsonify(privacy.all_for_caller(factory_service.list_logs(unit_of_work(),
                                                                    limit or MAX_LOGS)))


@blp.post("/log")
def create_log():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "The request body must be a JSON object.", seed_shape=True)
    try:
        # The seed's callers send more than the log's fields; ignore the rest as it did.
        entry = SeedLog().load(body, unknown=EXCLUDE)
    except ValidationError as exc:
        return error_response(400, "Invalid production log.", seed_shape=True, errors=exc.messages)
    created = factory_service.create_log(unit_of_work(), **entry)
    return jsonify(created), 201
