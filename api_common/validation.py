"""Input limits both APIs enforce: names fit their 100-character columns, quantities the domain's
range (inventory_core.domain.events.MAX_QUANTITY)."""
from marshmallow import validate

from inventory_core.domain.events import MAX_QUANTITY

NAME = validate.Length(min=1, max=100)
QUANTITY = validate.Range(min=1, max=MAX_QUANTITY)
