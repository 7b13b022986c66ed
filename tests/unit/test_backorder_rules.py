"""The backorder rules on their own: what a plain sale may take, and strict FIFO filling."""
from inventory_core.domain.backorders import Waiting, fifo_fill, sellable


def test_a_plain_sale_may_take_only_what_no_backorder_is_owed():
    assert sellable(10, 0) == 10
    assert sellable(10, 4) == 6
    assert sellable(2, 5) == 0  # never negative: the stock is all reserved


def test_fills_oldest_first_while_the_stock_covers_each_whole():
    waiting = [Waiting(1, 5), Waiting(2, 3), Waiting(3, 4)]
    assert [w.backorder_id for w in fifo_fill(12, waiting)] == [1, 2, 3]
    assert [w.backorder_id for w in fifo_fill(11, waiting)] == [1, 2]
    assert fifo_fill(4, waiting) == []


def test_a_small_late_backorder_never_overtakes_a_large_early_one():
    waiting = [Waiting(1, 5), Waiting(2, 6), Waiting(3, 1)]
    # 6 units: #1 takes 5; the 1 left would fit #3, but #2 came first and waits at the head.
    assert [w.backorder_id for w in fifo_fill(6, waiting)] == [1]
