"""Learned reorder rules: a reorder point and a target level from the item's own demand and its
factory's real lead times. Pure functions: no database, no clock (callers pass the history).

The reorder point covers the demand expected during a lead time plus safety stock for a service
level (the probability of not running out during a replenishment cycle):

    ROP = d·L + z·√(L·sd² + d²·sL²)

d, sd: mean and standard deviation of daily demand; L, sL: mean and standard deviation of the lead
time in days; z: the standard normal quantile of the service level. It is the variance of demand
summed over a random lead time (independent daily demands, lead time independent of demand), the
textbook form that counts both sources of uncertainty. The two simpler forms each drop one:
z·sd·√L ignores late deliveries, z·d·sL ignores uneven demand, and this shop has both (buyers come
in bursts, a factory's queue makes its lead time drift).

The target (order-up-to level) is the reorder point plus the demand expected over the review
period: stock for the time until the next decision point after this order arrives.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist, fmean, pstdev

# The defaults of a learned rule (a rule may override each). docs/demand.md says why.
WINDOW_DAYS = 28  # demand: the last four weeks (every weekday four times)
SERVICE_LEVEL = 0.95  # cycle service level: one replenishment cycle in twenty may run short
REVIEW_DAYS = 7.0  # the target adds a week of demand beyond the reorder point
LEAD_TIME_SAMPLES = 20  # the factory's most recent fulfilled orders
MIN_LEAD_TIME_SAMPLES = 3  # fewer than this: the lead time is not known well enough to learn
MIN_DEMAND_DAYS = 7  # a history shorter than a week says little about daily demand
# Clamps: a learned rule never goes beyond these, whatever the history says.
MAX_REORDER_POINT = 100_000
MIN_TARGET_LEVEL = 1


@dataclass(frozen=True)
class Policy:
    window_days: int = WINDOW_DAYS
    service_level: float = SERVICE_LEVEL
    review_days: float = REVIEW_DAYS

    def __post_init__(self) -> None:
        if not 0.5 <= self.service_level <= 0.999:
            raise ValueError("service_level must be from 0.5 to 0.999")
        if not 1 <= self.window_days <= 365:
            raise ValueError("window_days must be from 1 to 365")
        if not 0 <= self.review_days <= 90:
            raise ValueError("review_days must be from 0 to 90")


@dataclass(frozen=True)
class Demand:
    mean: float  # units per day
    std: float
    days: int  # how many days the figures come from


@dataclass(frozen=True)
class LeadTime:
    mean_days: float
    std_days: float
    samples: int


@dataclass(frozen=True)
class Learned:
    reorder_point: int
    target_level: int
    safety_stock: float
    z: float
    demand: Demand
    lead_time: LeadTime
    policy: Policy

    def inputs(self) -> dict[str, float | int]:
        """What the rule was learned from, flat (for the API, the dashboard, the database)."""
        return {"demand_mean": round(self.demand.mean, 4), "demand_std": round(self.demand.std, 4),
                "demand_days": self.demand.days,
                "lead_time_mean_days": round(self.lead_time.mean_days, 4),
                "lead_time_std_days": round(self.lead_time.std_days, 4),
                "lead_time_samples": self.lead_time.samples,
                "safety_stock": round(self.safety_stock, 2), "z": round(self.z, 4),
                **asdict(self.policy)}


class NotEnoughHistory(ValueError):
    """Too little history to learn from: the rule keeps its current values."""


def daily_demand(units_per_day: Sequence[int]) -> Demand:
    """Mean and spread of demand per day; `units_per_day` has one entry per day of the window,
    zeros included (a day without sales is data too)."""
    if len(units_per_day) < MIN_DEMAND_DAYS:
        raise NotEnoughHistory(f"demand known for {len(units_per_day)} days; "
                               f"at least {MIN_DEMAND_DAYS} needed")
    return Demand(fmean(units_per_day), pstdev(units_per_day), len(units_per_day))


def lead_time(days: Sequence[float]) -> LeadTime:
    """Mean and spread of requested → fulfilled times, in days."""
    if len(days) < MIN_LEAD_TIME_SAMPLES:
        raise NotEnoughHistory(f"{len(days)} fulfilled orders; at least "
                               f"{MIN_LEAD_TIME_SAMPLES} needed to know the lead time")
    return LeadTime(fmean(days), pstdev(days), len(days))


def z_of(service_level: float) -> float:
    return NormalDist().inv_cdf(service_level)


def reorder_point(demand: Demand, lead: LeadTime, service_level: float) -> tuple[float, float]:
    """(reorder point, safety stock), unrounded: d·L + z·√(L·sd² + d²·sL²)."""
    z = z_of(service_level)
    safety = z * math.sqrt(lead.mean_days * demand.std ** 2
                           + demand.mean ** 2 * lead.std_days ** 2)
    return demand.mean * lead.mean_days + safety, safety


def learn(demand: Demand, lead: LeadTime, policy: Policy = Policy()) -> Learned:
    """The rule: reorder point and target, whole units, clamped to sane bounds."""
    point, safety = reorder_point(demand, lead, policy.service_level)
    rounded = min(MAX_REORDER_POINT, max(0, math.ceil(point)))
    target = rounded + math.ceil(demand.mean * policy.review_days)
    # At least one more than the point: an order always brings stock above it.
    target = min(MAX_REORDER_POINT + 1, max(MIN_TARGET_LEVEL, rounded + 1, target))
    return Learned(rounded, target, safety, z_of(policy.service_level), demand, lead, policy)
