"""The kinds of refusal the domain can give, so every entry point answers them the same way.

Services raise subclasses (e.g. `ItemNotFound(NotFound)`); `api_common.errors` maps each kind to
its HTTP status once, so views need no `except ...: return 404` of their own. Consumers and CLI
commands catch the same kinds. The message is shown to the caller: keep it free of secrets.
"""
from __future__ import annotations


class InvalidEvent(ValueError):
    """A message that no retry can fix: it belongs in the dead-letter queue. (Raised by
    inventory_core.domain.events; here so the consumers' batch loop can catch it without importing
    the event schemas, i.e. marshmallow, at a cold start.)"""


class DomainError(Exception):
    """A request the domain refuses; `str(error)` is the message for the caller."""


class NotFound(DomainError, LookupError):
    """What was named does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request is valid but the current state forbids it, e.g. an order that already ended
    (HTTP 409)."""


class Unprocessable(DomainError, ValueError):
    """Well-formed but semantically refused, e.g. an Idempotency-Key reused for another request
    (HTTP 422)."""
