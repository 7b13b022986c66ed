"""Only the system writes to the factory: every request other than GET, HEAD and OPTIONS, on any
route present or future, must come from the factory writer, or it answers 401/403 before any view
(or body parsing) runs.

Who the writer is depends on where the factory runs (settings, see inventory_core.config):
- on AWS (`FACTORY_WRITER_ROLE_ARN` set): API Gateway's IAM authorization has verified the SigV4
  signature; the caller it verified, `requestContext.identity.userArn` of the Lambda event Zappa
  hands over in environ["lambda.event"], must be a session of that role (the order consumer's);
- locally (`FACTORY_WRITER_ACCESS_KEY_ID` and `..._SECRET_ACCESS_KEY` set): the factory verifies
  the SigV4 signature itself against that key pair (inventory_core.adapters.aws_auth.verify);
- with neither, every write is refused: the factory fails closed.

Reads stay open here. On AWS, API Gateway's IAM authorization covers every method, so reads
there need a signed caller too (docs/deploy.md).
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Flask, Response, request

from api_common import settings_of
from api_common.auth import SAFE_METHODS
from api_common.errors import error_response
from inventory_core.adapters import aws_auth
from inventory_core.config import Settings

log = logging.getLogger(__name__)
SECURITY_SCHEME = "sigv4"
SECURITY_SCHEME_DOC = {
    "type": "apiKey", "in": "header", "name": "Authorization",
    "description": "AWS Signature Version 4 (service execute-api) of the factory writer: the "
                   "order consumer's role on AWS, the local stack's writer key pair locally."}
WRITER_ONLY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]


def guard_writes(app: Flask) -> None:
    """Check every write before anything else the app does with the request."""
    app.before_request_funcs.setdefault(None, []).insert(0, _only_the_writer_writes)


def _only_the_writer_writes() -> Response | None:
    if request.method in SAFE_METHODS:
        return None
    refusal = _refusal(settings_of())
    if refusal is None:
        return None
    status, problem = refusal
    log.warning("factory write refused (%d): %s %s from %s: %s", status, request.method,
                request.path, request.remote_addr, problem)
    response = error_response(status, f"Only the replenishment system may write to the factory: "
                                      f"{problem}.")
    if status == 401:
        response.headers["WWW-Authenticate"] = aws_auth.ALGORITHM
    return response


def _refusal(settings: Settings) -> tuple[int, str] | None:
    """None when the request comes from the factory writer, else (status, why not)."""
    if settings.factory_writer_role_arn:
        event = request.environ.get("lambda.event")
        if not isinstance(event, dict):
            return 403, "this factory accepts writes only through its API Gateway"
        identity = (event.get("requestContext") or {}).get("identity") or {}
        if not aws_auth.is_session_of_role(identity.get("userArn"),
                                           settings.factory_writer_role_arn):
            return 403, "the caller is not the factory writer role"
        return None
    if settings.factory_writer_access_key_id and settings.factory_writer_secret_access_key:
        key = aws_auth.KeyPair(settings.factory_writer_access_key_id,
                               settings.factory_writer_secret_access_key)
        try:
            aws_auth.verify(request.method, _raw_uri(), dict(request.headers.items()),
                            request.get_data(cache=True), key, settings.aws_region)
        except aws_auth.SignatureRejected as exc:
            return 401, str(exc)
        return None
    return 403, "no factory writer is configured, so writes are disabled"


def _raw_uri() -> str:
    """The path and query exactly as the client sent them (what it signed)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw.startswith("/"):
        return raw
    path = quote(request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""))
    query = request.environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path
