"""Stock rules as plain functions: no database, no framework."""
from __future__ import annotations

from dataclasses import dataclass

from inventory_core.domain.errors import Unprocessable
from inventory_core.domain.events import MAX_QUANTITY


class InvalidQuantity(Unprocessable):
    """A quantity, or a stock level it would make, out of range (HTTP 422)."""


def check_quantity(quantity: int) -> None:
    """A quantity bought, restocked or produced: a whole number from 1 to MAX_QUANTITY."""
    if (isinstance(quantity, bool) or not isinstance(quantity, int)
            or not 1 <= quantity <= MAX_QUANTITY):
        raise InvalidQuantity(f"quantity must be a whole number from 1 to {MAX_QUANTITY}")


# Without a rule of its own, an item orders at most this many times its target level at once.
DEFAULT_MAX_ORDER_FACTOR = 10


@dataclass(frozen=True)
class Rule:
    reorder_point: int
    target_level: int
    multiple: int = 1
    # The most one replenishment order may ask for (None: DEFAULT_MAX_ORDER_FACTOR x target, and
    # at least one multiple). A huge purchase must not size production: it orders this at most.
    max_order_quantity: int | None = None

    @property
    def max_order(self) -> int:
        if self.max_order_quantity is not None:
            return self.max_order_quantity
        return max(DEFAULT_MAX_ORDER_FACTOR * self.target_level, self.multiple, 1)


# For items without a reorder_rules row: an item that sells out (fewer than 1 left) is reordered,
# and every replenishment brings stock plus what is on its way up to 10 units.
DEFAULT_RULE = Rule(reorder_point=1, target_level=10, multiple=1)


def needs_reorder(rule: Rule, quantity_after_sale: int) -> bool:
    return below_reorder_point(rule.reorder_point, quantity_after_sale)


def below_reorder_point(reorder_point: int, quantity_after_sale: int) -> bool:
    """needs_reorder, given only the point (a sale reads no more of the rule unless it orders)."""
    return quantity_after_sale < reorder_point


def reorder_quantity(rule: Rule, on_hand: int, on_order: int, shortfall: int = 0) -> int:
    """Order up to the target level counting stock already on its way, rounded up to the rule's
    multiple, and never less than the shortfall that triggered the order (nor less than one);
    but never more than the rule's maximum order (the largest multiple within it)."""
    wanted = max(rule.target_level - (on_hand + on_order), shortfall, 1)
    rounded = -(-wanted // rule.multiple) * rule.multiple
    cap = rule.max_order
    if rounded <= cap:
        return rounded
    # The largest multiple within the cap. The database keeps max_order_quantity >= multiple and
    # the default cap is at least one multiple, so there is one (else: the cap itself).
    return cap // rule.multiple * rule.multiple or max(cap, 1)
