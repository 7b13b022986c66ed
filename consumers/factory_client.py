"""The order consumer's HTTP client for the factory API.

A slow legacy factory must not make messages pile up or loop forever: every call has a connect
and a read timeout; connection errors, timeouts, 5xx and 429 are retried a few times with
exponential backoff inside one invocation (then SQS redelivery takes over); any other 4xx means
the request itself is wrong, which no retry fixes, so it is reported as permanent.

Every call is signed with AWS Signature Version 4 (service `execute-api`) with the credentials of
boto3's default chain: on Lambda the function's role, whose sessions API Gateway's IAM
authorization lets through to the factory; locally the key pair the local stack gives the
consumers, which the factory checks itself (factory_api/auth.py). Each attempt is signed anew,
so a retry never carries a stale date.
"""
from __future__ import annotations

import functools
import json
import logging
import time

import requests

from consumers.batch import PermanentFailure
from inventory_core.adapters import aws_auth

log = logging.getLogger(__name__)

TIMEOUT = (3.0, 10.0)  # (connect, read) seconds
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # 0.5 s, then 1 s between the attempts
RETRYABLE_STATUS = {408, 429}  # plus every 5xx


class FactoryUnavailable(Exception):
    """The factory did not answer usefully after every attempt: try again on a later delivery."""


class FactoryRejected(PermanentFailure):
    """The factory refused the request (4xx): it belongs in the dead-letter queue."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"factory answered {status}: {detail[:300]}")
        self.status = status


@functools.lru_cache(maxsize=1)
def _session() -> requests.Session:
    # One pooled session per Lambda container, reused while it is warm.
    return requests.Session()


def request_production(base_url: str, order: dict, region: str,
                       correlation_id: str | None = None, attempts: int = ATTEMPTS,
                       deadline: float | None = None) -> dict:
    """POST /production-orders; the factory's JSON answer (with production_order_id) on 2xx.

    Idempotent on the factory side (keyed on replenishment_order_id), so retrying is safe.
    `deadline` (a time.monotonic() value) stops retrying when the invocation is about to end."""
    return _call("POST", base_url, "/production-orders", order, region, correlation_id,
                 attempts, deadline)


def cancel_production(base_url: str, order: dict, region: str,
                      correlation_id: str | None = None, attempts: int = ATTEMPTS,
                      deadline: float | None = None) -> dict:
    """POST /production-orders/cancel with the order's terms; the cancelled production order.
    Idempotent on the factory side; 409 (FactoryRejected) when it was already produced."""
    return _call("POST", base_url, "/production-orders/cancel", order, region, correlation_id,
                 attempts, deadline)


def get_production_order(base_url: str, production_order_id: int, region: str,
                         attempts: int = ATTEMPTS) -> dict | None:
    """GET /production-orders/<id>, signed like every call (on AWS the factory's API Gateway
    authorizes reads too); None when the factory answers 404 (it has no such order)."""
    try:
        return _call("GET", base_url, f"/production-orders/{int(production_order_id)}", None,
                     region, None, attempts, None)
    except FactoryRejected as exc:
        if exc.status == 404:
            return None
        raise


def _call(method: str, base_url: str, path: str, body: dict | None, region: str,
          correlation_id: str | None, attempts: int, deadline: float | None) -> dict:
    payload = b""
    headers: dict[str, str] = {}
    if body is not None:
        body = dict(body)
        if correlation_id:
            body["correlation_id"] = correlation_id
        payload = json.dumps(body, separators=(",", ":")).encode()  # signed bytes = sent bytes
        headers["Content-Type"] = "application/json"
    if correlation_id:
        headers["X-Correlation-Id"] = correlation_id
    url = f"{base_url.rstrip('/')}{path}"
    what = (body or {}).get("replenishment_order_id", path)
    problem = "no time left in this invocation"
    made = 0
    for attempt in range(1, attempts + 1):
        pause = BACKOFF_SECONDS * 2 ** (attempt - 2) if attempt > 1 else 0.0
        # Start a call only if its worst case (connect + read timeout) ends before the deadline:
        # a Lambda killed mid-batch would send the whole batch back, good messages included.
        # Decided before the pause, so no invocation sleeps for a call it will not make.
        if deadline is not None and time.monotonic() + pause + sum(TIMEOUT) > deadline:
            break
        time.sleep(pause)
        made = attempt
        try:
            signed = aws_auth.sign(method, url, headers, payload, region)
            response = _session().request(method, url, data=payload or None, headers=signed,
                                          timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = f"{exc.__class__.__name__}: {exc}"
        else:
            if 200 <= response.status_code < 300:
                return response.json()
            if response.status_code >= 500 or response.status_code in RETRYABLE_STATUS:
                problem = f"HTTP {response.status_code}"
            else:
                raise FactoryRejected(response.status_code, response.text)
        log.warning("factory call %s %s %d/%d for %s failed: %s", method, path, attempt,
                    attempts, what, problem)
    raise FactoryUnavailable(f"factory unavailable after {made} attempt(s): {problem}")
