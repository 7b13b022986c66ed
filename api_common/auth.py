"""Who is an operator, checked in one place for every operator surface (the admin API, the
dashboard, its state feed and its buttons):

- an API client sends the admin credential as a bearer token (`Authorization: Bearer ...`);
- a browser signs in once with the same credential (/dashboard/login) and then carries an
  operator session cookie: signed, HttpOnly, SameSite=Strict, Secure outside localhost, expiring
  after SESSION_SECONDS. Every state-changing request it makes must also carry the session's CSRF
  token (X-CSRF-Token header, or a csrf_token form field) and, when the browser says where it
  comes from (Origin, Sec-Fetch-Site), come from this site.

The admin credential is ADMIN_TOKEN locally, or on AWS the value of the Secrets Manager secret
ADMIN_SECRET_ARN names, read on first use and re-read every minute (rotation without a deploy).
Sessions are signed with a key derived from the credential, so rotating it also signs every
operator out. With no credential configured every operator surface refuses (403).

`admin_required` guards a route; `is_operator()` tells a public read whether to show personal
data in full."""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response as BaseResponse

from api_common.app import settings_of
from api_common.errors import error_response
from inventory_core.adapters.secrets import (
    CachedSecret,
    SecretUnavailable,
    secret_reader,
)

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "operator_session"
SESSION_SECONDS = 8 * 3600  # a working day; then sign in again
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_SESSION_KEY_PURPOSE = b"operator-session-v1"


class Throttle(Protocol):
    """Counts a client's credential attempts (the shop's: inventory_core.service_layer.sign_in,
    in its database). An app without one does not limit guesses."""

    def seconds_to_wait(self, client: str) -> int: ...

    def record(self, client: str, succeeded: bool) -> None: ...


class CredentialUnavailable(RuntimeError):
    """The admin credential is configured (a secret) but cannot be read right now."""


@dataclass(frozen=True)
class OperatorSession:
    csrf_token: str


# --- the admin credential ------------------------------------------------------------------------

def admin_credential() -> str | None:
    """The admin credential now: None when none is configured (operator surfaces are off)."""
    settings = settings_of()
    if not settings.admin_secret_arn:
        return settings.admin_token
    cached = current_app.extensions.get("admin_secret")
    if cached is None:
        cached = current_app.extensions["admin_secret"] = CachedSecret(
            secret_reader(settings, settings.admin_secret_arn))
    try:
        return cached.value()
    except SecretUnavailable as exc:
        log.error("admin credential unavailable: %s", exc)
        raise CredentialUnavailable(str(exc)) from exc


def credential_matches(offered: str, credential: str) -> bool:
    return hmac.compare_digest(offered.encode(), credential.encode())


def client_address() -> str:
    """Who is asking, for the sign-in limit and the log. On Lambda, the address API Gateway saw
    the connection come from (requestContext.identity.sourceIp): Zappa's REMOTE_ADDR is taken
    from X-Forwarded-For, which a client can write itself."""
    event = request.environ.get("lambda.event")
    if isinstance(event, dict):
        source = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
        if source:
            return str(source)
    return request.remote_addr or "unknown"


def throttle() -> Throttle | None:
    return current_app.extensions.get("operator_throttle")


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


# --- sessions ------------------------------------------------------------------------------------

def _serializer(credential: str) -> URLSafeTimedSerializer:
    key = hmac.new(credential.encode(), _SESSION_KEY_PURPOSE, hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt="operator-session")


def start_session(response: BaseResponse, credential: str) -> OperatorSession:
    """Sign `response`'s browser in: a new session with a new CSRF token."""
    session = OperatorSession(csrf_token=secrets.token_urlsafe(32))
    response.set_cookie(SESSION_COOKIE, _serializer(credential).dumps({"csrf": session.csrf_token}),
                        max_age=SESSION_SECONDS, path="/", httponly=True, samesite="Strict",
                        secure=not is_local_host())
    g.operator_session = session
    return session


def end_session(response: BaseResponse) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict",
                           secure=not is_local_host())


def current_session() -> OperatorSession | None:
    """The request's valid, unexpired operator session, if it carries one."""
    if "operator_session" in g:
        return g.operator_session
    g.operator_session = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            credential = admin_credential()
        except CredentialUnavailable:
            credential = None
        if credential:
            try:
                data = _serializer(credential).loads(cookie, max_age=SESSION_SECONDS)
                g.operator_session = OperatorSession(csrf_token=str(data["csrf"]))
            except (BadSignature, KeyError, TypeError):  # expired, forged, or another credential's
                pass
    return g.operator_session


def is_local_host() -> bool:
    """Served as localhost: the one place a session cookie may go without Secure (plain HTTP)."""
    return urlsplit(f"//{request.host}").hostname in LOCAL_HOSTS


def _same_site_request() -> bool:
    """What the browser says about where the request comes from, when it says anything."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    # "null": what a browser sends for a form posted under Referrer-Policy no-referrer (ours).
    origin = request.headers.get("Origin", "null")
    return origin == "null" or origin == request.host_url.rstrip("/")


def _csrf_ok(session: OperatorSession) -> bool:
    offered = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    return _same_site_request() and hmac.compare_digest(offered.encode(),
                                                        session.csrf_token.encode())


# --- the checks ----------------------------------------------------------------------------------

def _bearer_verdict(token: str, credential: str) -> str:
    """"ok", "wrong" or "throttled": a wrong bearer token counts as a failed sign-in attempt of
    its client, so guessing through the API is limited like guessing through the form."""
    limiter, client = throttle(), client_address()
    if limiter is not None and limiter.seconds_to_wait(client):
        return "throttled"
    if credential_matches(token, credential):
        return "ok"
    if limiter is not None:
        limiter.record(client, False)
    log.warning("admin bearer token refused: wrong credential from %s", client)
    return "wrong"


def is_operator() -> bool:
    """For public reads: does this request come from an operator (bearer or session)? Never
    raises; an unreadable credential means no."""
    token = _bearer_token()
    if token is None and SESSION_COOKIE not in request.cookies:
        return False  # the common case: nothing to check, no credential to read
    try:
        credential = admin_credential()
    except CredentialUnavailable:
        return False
    if not credential:
        return False
    if token is not None:
        return _bearer_verdict(token, credential) == "ok"
    return current_session() is not None


def operator_refusal() -> Response | None:
    """None when the request may use an operator surface, else the answer refusing it."""
    try:
        credential = admin_credential()
    except CredentialUnavailable:
        return error_response(503, "The admin credential cannot be read right now; try again "
                                   "shortly.")
    if not credential:
        return error_response(403, "Admin routes are disabled: set ADMIN_TOKEN (or, on AWS, "
                                   "the secret ADMIN_SECRET_ARN names) to enable them.")
    token = _bearer_token()
    if token is not None:
        verdict = _bearer_verdict(token, credential)
        if verdict == "throttled":
            response = error_response(429, "Too many wrong credentials from here; wait a minute.")
            response.headers["Retry-After"] = "60"
            return response
        return None if verdict == "ok" else _unauthorized("A valid admin bearer token is required.")
    session = current_session()
    if session is None:
        return _unauthorized("Sign in at /dashboard/login, or send the admin bearer token.")
    if request.method not in SAFE_METHODS and not _csrf_ok(session):
        log.warning("operator request refused: no valid CSRF token: %s %s from %s",
                    request.method, request.path, request.remote_addr)
        return error_response(403, "This request needs the operator session's CSRF token "
                                   f"({CSRF_HEADER}); reload the dashboard.")
    return None


def _unauthorized(message: str) -> Response:
    response = error_response(401, message)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only operators: the bearer token, or a signed-in session (plus its CSRF token for
    anything but GET/HEAD/OPTIONS). Every admin route and dashboard action goes through here."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refusal = operator_refusal()
        return refusal if refusal is not None else view(*args, **kwargs)
    return wrapper
