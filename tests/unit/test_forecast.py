"""Learned reorder points from synthetic history: the formula, its clamps, and a reorder point
that follows a factory whose lead time drifts."""
from __future__ import annotations

import math
import random
from itertools import pairwise

import pytest

from inventory_core.domain.forecast import (
    MAX_REORDER_POINT,
    Demand,
    LeadTime,
    NotEnoughHistory,
    Policy,
    daily_demand,
    lead_time,
    learn,
    reorder_point,
)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of one item's daily sales."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_the_reorder_point_is_lead_time_demand_plus_safety_stock():
    demand, lead = Demand(mean=4.0, std=2.0, days=28), LeadTime(3.0, 1.0, 10)
    point, safety = reorder_point(demand, lead, 0.95)
    z = 1.6448536269514722
    assert safety == pytest.approx(z * math.sqrt(3 * 2.0 ** 2 + 4.0 ** 2 * 1.0 ** 2))
    assert point == pytest.approx(4 * 3 + safety)
    rule = learn(demand, lead, Policy(review_days=7))
    assert rule.reorder_point == math.ceil(point) == 21  # 12 + 8.7, rounded up
    assert rule.target_level == 21 + 28  # plus a week of demand
    assert rule.inputs()["lead_time_samples"] == 10


def test_a_certain_world_needs_no_safety_stock():
    rule = learn(Demand(5.0, 0.0, 28), LeadTime(2.0, 0.0, 5))
    assert (rule.reorder_point, rule.safety_stock) == (10, 0.0)


def test_a_higher_service_level_holds_more_safety_stock():
    demand, lead = Demand(4.0, 2.0, 28), LeadTime(3.0, 1.0, 10)
    points = [learn(demand, lead, Policy(service_level=s)).reorder_point
              for s in (0.5, 0.9, 0.95, 0.99)]
    assert all(low < high for low, high in pairwise(points)), points  # each holds more
    assert points[0] == 12  # z = 0 at 50 %: no safety stock


def test_clamped_to_sane_bounds():
    idle = learn(Demand(0.0, 0.0, 28), LeadTime(2.0, 0.5, 5))
    assert (idle.reorder_point, idle.target_level) == (0, 1)  # nothing sells: order one at most
    flood = learn(Demand(1e6, 1e5, 28), LeadTime(30.0, 10.0, 5))
    assert flood.reorder_point == MAX_REORDER_POINT
    assert flood.target_level == MAX_REORDER_POINT + 1


def test_too_little_history_is_not_learned_from():
    with pytest.raises(NotEnoughHistory):
        daily_demand([3, 4, 5])
    with pytest.raises(NotEnoughHistory):
        lead_time([2.0, 2.5])
    with pytest.raises(ValueError, match="service_level"):
        Policy(service_level=1.0)


def test_the_learned_point_tracks_a_drifting_lead_time():
    """60 days of Poisson demand (4 a day) while the factory's lead time drifts from 2 to 6 days.
    Learned every day from the trailing window and the last orders, the reorder point follows the
    lead time: it stays near d·L + safety of the lead time of the time, not of the start."""
    rng = random.Random(14)
    days = 60
    sales = [poisson(rng, 4.0) for _ in range(days)]
    true_lead = [2.0 + 4.0 * day / (days - 1) for day in range(days)]  # 2 → 6 days
    # An order every three days, each taking the lead time of its day, ±10 %.
    orders = [(day, true_lead[day] * rng.uniform(0.9, 1.1)) for day in range(0, days, 3)]
    learned = {}
    for today in (20, 40, 59):
        # What the shop knows on `today`: the window of sales, and the orders fulfilled by then.
        window = sales[today - 13:today + 1]
        done = [took for placed, took in orders if placed + took <= today][-5:]
        learned[today] = learn(daily_demand(window), lead_time(done), Policy(window_days=14))
    points = [learned[d].reorder_point for d in (20, 40, 59)]
    assert points[0] < points[1] < points[2]  # it rose with the lead time
    for today, rule in learned.items():
        # The lead time it learned lags the truth (orders finish late) but follows it...
        recent = true_lead[today - round(true_lead[today]) - 6]
        assert rule.lead_time.mean_days == pytest.approx(recent, rel=0.25)
        # ...and the point is the demand over that lead time, plus safety stock.
        assert 4.0 * rule.lead_time.mean_days * 0.7 < rule.reorder_point
        assert rule.reorder_point < 4.0 * rule.lead_time.mean_days * 1.3 + 3 * rule.safety_stock
    # A fixed rule tuned for the first weeks would cover less than half the final lead-time demand.
    assert learned[20].reorder_point < 0.6 * learned[59].reorder_point
