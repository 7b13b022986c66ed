"""Backorder rules as plain functions: what a plain sale may take, and which waiting backorders a
restock fills. No database, no framework."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    backorder_id: int
    quantity: int


def sellable(on_hand: int, owed: int) -> int:
    """Units a plain sale may take: stock on hand less what waiting backorders are owed."""
    return max(0, on_hand - owed)


def fifo_fill(on_hand: int, waiting: Sequence[Waiting]) -> list[Waiting]:
    """The backorders `on_hand` units fill, oldest first (`waiting` in arrival order).

    Strictly first come, first served: it stops at the first backorder the stock cannot cover
    whole, so a small late backorder never overtakes a large early one (nor is anyone's order
    split: a backorder is filled in one sale or not at all). What is left stays reserved for the
    one at the head, and the replenishment sized from the owed units brings the rest."""
    filled = []
    for backorder in waiting:
        if backorder.quantity > on_hand:
            break
        on_hand -= backorder.quantity
        filled.append(backorder)
    return filled
