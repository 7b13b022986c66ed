import pytest

from inventory_core.domain.stock import DEFAULT_RULE, Rule, needs_reorder, reorder_quantity


@pytest.mark.parametrize("on_hand, on_order, shortfall, expected", [
    (2, 0, 3, 8),     # the seed story: Item2 has 2, someone wants 5 -> up to the target of 10
    (0, 0, 0, 10),    # sold out: refill to the target
    (0, 0, 50, 50),   # a large order: never less than the shortfall
    (4, 6, 0, 1),     # enough on its way already: still at least one unit
    (9, 0, 0, 1),
])
def test_orders_up_to_target_counting_stock_on_its_way(on_hand, on_order, shortfall, expected):
    assert reorder_quantity(DEFAULT_RULE, on_hand, on_order, shortfall) == expected


def test_rounds_up_to_the_multiple():
    rule = Rule(reorder_point=5, target_level=20, multiple=12)
    assert reorder_quantity(rule, on_hand=3, on_order=0) == 24   # 17 -> 24
    assert reorder_quantity(rule, on_hand=0, on_order=0, shortfall=30) == 36
    assert reorder_quantity(rule, on_hand=8, on_order=0) == 12   # 12 exactly


def test_reorder_point_is_a_strict_lower_bound():
    rule = Rule(reorder_point=3, target_level=10)
    assert needs_reorder(rule, 2)
    assert not needs_reorder(rule, 3)
    assert needs_reorder(DEFAULT_RULE, 0) and not needs_reorder(DEFAULT_RULE, 1)


def test_a_shortage_never_orders_more_than_ten_times_the_target_by_default():
    assert DEFAULT_RULE.max_order == 100
    assert reorder_quantity(DEFAULT_RULE, on_hand=3, on_order=0, shortfall=999_996) == 100
    assert reorder_quantity(DEFAULT_RULE, on_hand=2, on_order=0, shortfall=3) == 8  # the seed


def test_an_items_own_maximum_caps_the_order_at_a_whole_multiple():
    rule = Rule(reorder_point=5, target_level=20, multiple=12, max_order_quantity=30)
    assert reorder_quantity(rule, on_hand=0, on_order=0, shortfall=1000) == 24  # 2 x 12 <= 30
    assert reorder_quantity(rule, on_hand=3, on_order=0) == 24  # 17 -> 24: within the cap
    exact = Rule(reorder_point=1, target_level=10, max_order_quantity=10)
    assert reorder_quantity(exact, on_hand=0, on_order=0, shortfall=11) == 10


def test_the_default_maximum_holds_at_least_one_multiple():
    rule = Rule(reorder_point=0, target_level=5, multiple=100)
    assert rule.max_order == 100
    assert reorder_quantity(rule, on_hand=0, on_order=0, shortfall=10_000) == 100
