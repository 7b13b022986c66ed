"""The `Idempotency-Key` request header of the purchase routes (IETF httpapi draft
"The Idempotency-Key HTTP Header Field"; Stripe's API): a client that timed out sends its
purchase again with the same key and gets the first answer (status and body, with
`Idempotent-Replayed: true`) instead of buying again. The same key with a different request
answers 422; a malformed key 400. Without the header a purchase is not deduplicated.

The key is kept at least 24 hours, in the shop database, in the sale's own transaction
(inventory_core.service_layer.shop_service.purchase_once)."""
from __future__ import annotations

import hashlib
import json

from flask import Response, request

from api_common.errors import json_response
from inventory_core.service_layer.shop_service import Answer, KeyedRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
HEADER_DOC = {"in": "header", "name": HEADER, "required": False,
              "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
              "description": "Any unique string (a UUID): a retry with the same key and body gets "
                             "the first answer and buys nothing more; another body answers 422. "
                             "Kept at least 24 hours."}


class InvalidKey(ValueError):
    pass


def keyed_request(body: object) -> KeyedRequest | None:
    """The request's key and fingerprint (method, path and body, canonical JSON), or None when it
    sent no key. InvalidKey for an empty, overlong or non-ASCII one."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # the draft's form: a structured-field string
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise InvalidKey(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fingerprint = hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode())
    return KeyedRequest(key, fingerprint.hexdigest())


def answered(answer: Answer) -> Response:
    response = json_response(answer.status, answer.body)
    if answer.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
