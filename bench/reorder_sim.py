"""A year of synthetic demand replayed under fixed reorder rules and under the learned rule
(inventory_core.domain.forecast), as the shop runs them: one open replenishment order per item
at a time, ordered up to the target when stock on hand plus on order falls below the reorder point,
demand that finds no stock lost (a stock-out day). `make simulate` writes the table and the chart
into docs/demand.md and docs/demand-simulation.svg.

    python -m bench.reorder_sim            # print the table
    python -m bench.reorder_sim --write    # and update docs/demand.md + the SVG

The year: demand is Poisson, 4 a day rising to 8 (a product catching on), weekends half as busy
again; the factory's lead time is 2 days, drifts to 6 between days 120 and 240 (its queue grows),
then settles at 3, each delivery ±25 %. Deterministic (seeded): the same table every run.
"""
from __future__ import annotations

import argparse
import math
import random
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from api_common.charts import Axis, Series, chart, value_axis
from inventory_core.domain.forecast import NotEnoughHistory, Policy, daily_demand, lead_time, learn

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "demand.md"
SVG = ROOT / "docs" / "demand-simulation.svg"
BEGIN, END = "<!-- reorder_sim:begin -->", "<!-- reorder_sim:end -->"
DAYS = 365
SEED = 14
START_STOCK = 20
FIXED_RULES = {"fixed 1/10 (the default)": (1, 10), "fixed 10/30": (10, 30),
               "fixed 20/50": (20, 50), "fixed 30/70": (30, 70), "fixed 40/90": (40, 90)}
LEARNED = "learned"
POLICY = Policy()  # the shop's defaults: 28-day window, 95 %, a week's review
LEAD_TIME_SAMPLES = 20


def demand_mean(day: int) -> float:
    base = 4.0 + 4.0 * min(1.0, day / 300)
    return base * (1.5 if day % 7 in (5, 6) else 1.0)


def true_lead_time(day: int) -> float:
    if day < 120:
        return 2.0
    if day < 240:
        return 2.0 + 4.0 * (day - 120) / 120
    return 3.0


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class Run:
    name: str
    point: int
    target: int
    on_hand: int = START_STOCK
    order: tuple[int, int, int] | None = None  # (placed on, arrives on, quantity)
    sales: list[int] = field(default_factory=list)  # units asked for per day (demand)
    leads: deque = field(default_factory=lambda: deque(maxlen=LEAD_TIME_SAMPLES))
    stock_out_days: int = 0
    units_lost: int = 0
    orders: int = 0
    on_hand_sum: int = 0
    stock: list[int] = field(default_factory=list)
    points: list[int] = field(default_factory=list)


def simulate() -> list[Run]:
    rng = random.Random(SEED)
    demand = [poisson(rng, demand_mean(day)) for day in range(DAYS)]
    leads = [max(1, round(true_lead_time(day) * rng.uniform(0.75, 1.25))) for day in range(DAYS)]
    runs = [Run(name, p, t) for name, (p, t) in FIXED_RULES.items()]
    runs.append(Run(LEARNED, *FIXED_RULES["fixed 10/30"]))  # starts from a typed-in rule
    for run in runs:
        for day in range(DAYS):
            if run.order and run.order[1] == day:  # a delivery arrives in the morning
                run.on_hand += run.order[2]
                run.leads.append(run.order[1] - run.order[0])
                run.order = None
            asked = demand[day]
            sold = min(asked, run.on_hand)
            run.on_hand -= sold
            run.sales.append(asked)
            if sold < asked:
                run.stock_out_days += 1
                run.units_lost += asked - sold
            if run.name == LEARNED:
                _relearn(run)
            on_order = run.order[2] if run.order else 0
            if run.order is None and run.on_hand + on_order < run.point:
                quantity = max(1, run.target - run.on_hand)
                run.order = (day, day + leads[day], quantity)
                run.orders += 1
            run.on_hand_sum += run.on_hand
            run.stock.append(run.on_hand)
            run.points.append(run.point)
    return runs


def _relearn(run: Run) -> None:
    window = run.sales[-POLICY.window_days:]
    try:
        rule = learn(daily_demand(window), lead_time(list(run.leads)), POLICY)
    except NotEnoughHistory:
        return  # keeps its starting rule until it knows enough
    run.point, run.target = rule.reorder_point, rule.target_level


def table(runs: list[Run]) -> str:
    lines = ["| rule | stock-out days | units lost | average on hand | orders placed |",
             "|---|---:|---:|---:|---:|"]
    for run in runs:
        lines.append(f"| {run.name} | {run.stock_out_days} | {run.units_lost} | "
                     f"{run.on_hand_sum / DAYS:.1f} | {run.orders} |")
    return "\n".join(lines)


def svg(runs: list[Run]) -> str:
    """Stock on hand over the year: the learned rule against the fixed rule closest to it in
    stock held, with the learned reorder point and the true lead time (drawn by the dashboard's
    chart helper, api_common.charts)."""
    learned = next(r for r in runs if r.name == LEARNED)
    fixed = min((r for r in runs if r is not learned),
                key=lambda r: abs(r.on_hand_sum - learned.on_hand_sum))
    y = value_axis([*learned.stock, *fixed.stock], "units", integers=True)
    x = Axis(0, DAYS - 1, [(d, f"day {d}") for d in range(0, DAYS, 60)])

    def line(values: list[float]) -> list[tuple[float, float]]:
        return list(enumerate(values))

    lead = [true_lead_time(d) * y.high / 8 for d in range(DAYS)]  # 8 days = the top of the chart
    series = [Series(f"{fixed.name} (stock on hand)", line(fixed.stock), "fixed", "#c94f1b"),
              Series(f"{learned.name} (stock on hand)", line(learned.stock), "learned", "#1b6ac9"),
              Series("learned reorder point", line(learned.points), "point", "#1b6ac9", "4 3"),
              Series("true lead time (0-8 days)", line(lead), "lead", "#777", "2 2")]
    return str(chart("Stock on hand over the simulated year", x, y, series, width=760,
                     height=340, background="#fff")) + "\n"


def write(runs: list[Run]) -> None:
    block = (f"{BEGIN}\n{table(runs)}\n\n![Stock on hand over the simulated year]"
             f"(demand-simulation.svg)\n{END}")
    text = DOC.read_text()
    if BEGIN not in text:
        raise SystemExit(f"{DOC} has no {BEGIN} … {END} block to fill")
    DOC.write_text(re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text,
                          flags=re.S))
    SVG.write_text(svg(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reorder_sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update docs/demand.md and the SVG")
    args = parser.parse_args(argv)
    runs = simulate()
    print(table(runs))
    if args.write:
        write(runs)
        print(f"wrote {DOC.relative_to(ROOT)} and {SVG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
