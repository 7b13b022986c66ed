"""Personal data in public answers: a buyer's name (`requester`) is shown in full to operators
only (the admin bearer token, or a signed-in dashboard session: api_common.auth.is_operator).
Anyone else sees its first character and "***": the field and its type stay (the seed's
GET /log keeps its exact shape), the name does not."""
from __future__ import annotations

from typing import Any

from api_common.auth import is_operator

PERSONAL_FIELDS = ("requester",)
MASK = "***"


def mask(name: str | None) -> str | None:
    return f"{name[:1]}{MASK}" if name else name


def for_caller(record: dict[str, Any] | None,
               operator: bool | None = None) -> dict[str, Any] | None:
    """`record` as this caller may see it (a copy when anything is masked)."""
    if record is None or (operator if operator is not None else is_operator()):
        return record
    return {key: mask(value) if key in PERSONAL_FIELDS else value for key, value in record.items()}


def all_for_caller(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    operator = is_operator()
    return [for_caller(record, operator) or {} for record in records]
