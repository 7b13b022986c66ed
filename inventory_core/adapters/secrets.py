"""Secrets Manager values that can change while the functions run: read on first use, then kept
for a short while only, so a rotated secret takes effect everywhere within that while, with no
deploy (the admin credential: ADMIN_SECRET_ARN).

A value that cannot be read is never guessed: `SecretUnavailable` is raised, and callers fail
closed (the admin routes refuse everyone until Secrets Manager answers again)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from inventory_core.config import Settings

# How long a value read from Secrets Manager is used before it is read again.
CACHE_SECONDS = 60.0
# How long a failed read is answered from memory (still failing) before Secrets Manager is asked
# again: a caller hammering a route cannot turn into one Secrets Manager call per request.
FAILURE_SECONDS = 5.0


def now() -> float:
    """The cache's clock (tests replace it)."""
    return time.monotonic()


class SecretUnavailable(RuntimeError):
    """Secrets Manager did not answer with the secret (no permission, no value yet, no network)."""


class CachedSecret:
    """The SecretString of one secret, read at most once per `ttl` seconds per process."""

    def __init__(self, read: Callable[[], str], ttl: float | None = None,
                 clock: Callable[[], float] | None = None):
        self._read = read
        self._ttl = CACHE_SECONDS if ttl is None else ttl
        self._clock = clock or now
        self._lock = threading.Lock()
        self._value: str | None = None
        self._read_at = 0.0
        self._failure: SecretUnavailable | None = None
        self._failed_at = 0.0

    def value(self) -> str:
        """The value, read again once it is older than the ttl. Raises SecretUnavailable when
        that read fails: never the previous value, which may be the one just rotated away."""
        with self._lock:
            now = self._clock()
            if self._failure is not None and now - self._failed_at < FAILURE_SECONDS:
                raise self._failure
            if self._value is None or now - self._read_at >= self._ttl:
                self._value = None
                try:
                    self._value, self._read_at, self._failure = self._read(), now, None
                except SecretUnavailable as exc:
                    self._failure, self._failed_at = exc, now
                    raise
            return self._value


def secret_reader(settings: Settings, secret_id: str) -> Callable[[], str]:
    """A function that reads `secret_id`'s current SecretString (trimmed)."""
    import boto3  # only deployed functions (and tests against moto) read secrets
    from botocore.exceptions import BotoCoreError, ClientError

    client: Any = boto3.session.Session().client(
        "secretsmanager", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)

    def read() -> str:
        try:
            value = client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
        except (BotoCoreError, ClientError) as exc:
            raise SecretUnavailable(f"cannot read secret {secret_id}: {exc}") from exc
        if not value.strip():
            raise SecretUnavailable(f"secret {secret_id} has no value yet")
        return value.strip()

    return read
