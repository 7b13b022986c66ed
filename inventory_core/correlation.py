"""The correlation id: one value that ties together every log line and event of one flow, from
the purchase that found too little stock to the restock (docs/operability.md).

Where it comes from: both APIs take it from a request's `X-Correlation-Id` header, or make a new
one when the header is missing or not valid (`accept`), and echo it in the answer
(api_common.app); the SQS batch loop takes it from each message's envelope, or the message's own
event id when its producer set none (consumers.batch); the order consumer sends it on to the
factory in its requests, and the factory keeps it with the production order for the events it
emits later. While a flow is handled it sits in a context variable (`bound`; `bind`/`unbind` for
request hooks, which cannot hold a `with` block): the unit of work stamps it on every event
emitted without one (UnitOfWork.emit), and every log line prints it (inventory_core.logs). An
event emitted outside any flow carries its own event id instead (Event.to_json). Pure: no I/O,
importable from every layer."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "X-Correlation-Id"
MAX_LENGTH = 36  # a UUID's text; production_orders.correlation_id is String(36)
# What a client may send: a UUID, a trace id, "checkout-42:retry.1"; nothing that could forge a
# log line or a header (spaces, quotes, line breaks) and nothing longer than the column.
PATTERN = re.compile(rf"^[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}\Z")  # anchored: for re.match too

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def is_valid(value: object) -> bool:
    return isinstance(value, str) and PATTERN.fullmatch(value) is not None


def new_id() -> str:
    return str(uuid.uuid4())


def accept(offered: object) -> str:
    """`offered` if it is a valid correlation id, else a new one."""
    return offered if is_valid(offered) else new_id()  # type: ignore[return-value]


def current() -> str | None:
    """The correlation id of the flow being handled, if any."""
    return _current.get()


@contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Handle one flow under `correlation_id` (None: no flow is known)."""
    token = _current.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _current.reset(token)


def bind(correlation_id: str | None):
    """Set it until `unbind(token)`: for request hooks, which cannot hold a `with` block."""
    return _current.set(correlation_id)


def unbind(token) -> None:
    _current.reset(token)
