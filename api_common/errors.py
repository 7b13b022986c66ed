"""Every error answers JSON: `{"code", "status", "message"[, "errors"]}`; never a traceback."""
from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from inventory_core.domain.errors import Conflict, DomainError, NotFound, Unprocessable

log = logging.getLogger(__name__)


def json_response(code: int, body) -> Response:
    """A finished Response: flask-smorest passes it through instead of dumping it with the
    route's success schema."""
    response = jsonify(body)
    response.status_code = code
    return response


def error_response(code: int, message: str, seed_shape: bool = False, **extra) -> Response:
    if seed_shape:  # the seed's routes answered errors as a bare {"message": ...}
        return json_response(code, {"message": message, **extra})
    body = {"code": code, "status": HTTPStatus(code).phrase, "message": message, **extra}
    return json_response(code, body)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")  # webargs/marshmallow validation details
        extra: dict[str, Any] = {"errors": _flatten(messages)} if messages else {}
        if messages:
            message = "The request is invalid; see errors."
        else:
            message = data.get("message") or exc.description or exc.name
        return error_response(exc.code or 500, str(message), **extra)

    @app.before_request
    def refuse_unparsable_json():
        # Parse a JSON body once up front: JSON nested thousands deep (RecursionError), an
        # integer of thousands of digits (ValueError) or a lone surrogate escape such as "\ud800"
        # (not text: UnicodeEncodeError in the database driver) would otherwise become a 500.
        # An empty body is no body: many clients send Content-Type: application/json on every
        # request, GETs included, and a route that takes no body must answer them.
        if request.is_json and request.get_data(cache=True):
            try:
                json.dumps(json.loads(request.get_data(cache=True)),
                           ensure_ascii=False).encode("utf-8")
            except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
                return error_response(400, "The request body is not valid JSON.",
                                      errors={"body": [("Invalid JSON: malformed, too deeply "
                                                        "nested, with an out-of-range number or "
                                                        "a lone surrogate in a string.")]})
        return None

    @app.errorhandler(DomainError)
    def domain_refusal(exc: DomainError):
        return error_response(domain_status(exc), str(exc) or type(exc).__name__)

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        log.error("database error: %s", exc.orig)
        return error_response(503, "The database is unavailable; try again shortly.")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "Internal error; it has been logged.")


def domain_status(exc: DomainError) -> int:
    """The one mapping of the domain's refusals to HTTP statuses."""
    for kind, status in ((NotFound, 404), (Conflict, 409), (Unprocessable, 422)):
        if isinstance(exc, kind):
            return status
    return 400


def _flatten(messages) -> dict:
    """webargs nests errors under the location ("json", "query"); users care about the fields.
    Always an object, as the documented error schema says: a bare list is about the body."""
    if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in (
            "json", "query", "path", "form", "headers"):
        messages = next(iter(messages.values()))
    return messages if isinstance(messages, dict) else {"body": messages}
