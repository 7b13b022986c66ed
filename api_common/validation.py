"""Input limits both APIs enforce, equal to what the columns hold, so that no value a schema
accepts is one the database refuses (a 500 on MySQL, whose limits are strict):

- text: `Text` fields, trimmed, no control characters, at most the column's length (NAME: 100);
- ids: row ids in URLs (`<id:...>`) and bodies up to the column's integer range (INT_MAX for
  INT columns, BIGINT_MAX for BIGINT ones); a bigger number is "no such row" or invalid, never
  an overflow in the driver;
- quantities: the domain's range (inventory_core.domain.events.MAX_QUANTITY).

tests/unit/test_schema_limits.py compares every limit here with its column."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate
from werkzeug.routing import IntegerConverter, Map

from inventory_core import correlation
from inventory_core.domain.events import MAX_QUANTITY
from inventory_core.domain.text import has_control_characters

INT_MAX = 2**31 - 1  # MySQL INT: item, factory and quantity columns
BIGINT_MAX = 2**63 - 1  # MySQL BIGINT, SQLite INTEGER: orders, purchases, logs, dead letters
NAME_LENGTH = 100  # every name column: String(100)
EMAIL_LENGTH = 254  # every e-mail column: String(254), RFC 5321's path limit
CORRELATION_ID_LENGTH = correlation.MAX_LENGTH  # production_orders.correlation_id: String(36)

NAME = validate.Length(min=1, max=NAME_LENGTH)
QUANTITY = validate.Range(min=1, max=MAX_QUANTITY)
ID = validate.Range(min=1, max=INT_MAX)
BIG_ID = validate.Range(min=1, max=BIGINT_MAX)
CORRELATION_ID = [validate.Length(min=1, max=CORRELATION_ID_LENGTH),
                  validate.Regexp(correlation.PATTERN, error="Letters, digits and . _ : - only.")]


class Text(fields.String):
    """User text: leading and trailing white space removed, then refused if it holds a control
    or invisible formatting character (inventory_core.domain.text). Length validators apply to
    the trimmed text, so "   " is empty."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if has_control_characters(text):
            raise ValidationError("Must not contain control characters (line breaks, tabs, "
                                  "escapes, invisible formatting).")
        return text


class StrictBoolean(fields.Boolean):
    """JSON true or false only: marshmallow's Boolean also takes "yes", "on" and 1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class RowId(IntegerConverter):
    """`<id:name>` in a route: digits from 1 to BIGINT_MAX; anything else matches no route (404)
    instead of reaching the database driver as a number it cannot bind."""

    def __init__(self, url_map: Map, max: int = BIGINT_MAX) -> None:
        super().__init__(url_map, min=1, max=max)

    @staticmethod
    def openapi_schema(converter: RowId) -> dict[str, Any]:
        """The path parameter's schema in the OpenAPI document."""
        return {"type": "integer", "minimum": converter.min, "maximum": converter.max}
