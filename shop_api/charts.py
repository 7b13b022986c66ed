"""The dashboard's two charts, drawn on the server as SVG (api_common.charts) from the data of
inventory_core.service_layer.dashboard_charts: stock over time per item with its reorder point and
target, and replenishment lead time per factory, promised against actual. No script draws them:
they are part of the page as it is served, under the page's content-security policy."""
from __future__ import annotations

from datetime import datetime
from statistics import median

from api_common.charts import Axis, Level, Series, chart, time_axis, value_axis

STOCK, REORDER, TARGET = "#1f9d55", "#d68b00", "#2f6fde"
ACTUAL, PROMISED = "#2f6fde", "#7a5af8"
# (seconds per unit, its name, the longest lead time still shown in it)
UNITS = ((1, "s", 120), (60, "min", 2 * 3600), (3600, "h", 48 * 3600), (86400, "days", None))


def _epoch(at: datetime) -> float:
    return at.timestamp()


def stock_chart(item: dict, now: datetime, since: datetime) -> dict:
    """One item's chart: its level as a step line from its first row shown to now (flat at the
    current quantity if nothing moved in the window)."""
    points = [(_epoch(at), float(q)) for at, q in item["points"]]
    if not points:
        points = [(_epoch(since), float(item["quantity"]))]
    points.append((_epoch(now), points[-1][1]))  # the level holds until now
    values = [q for _, q in points] + [item["reorder_point"], item["target_level"]]
    svg = chart(
        item["name"], time_axis(points[0][0], points[-1][0]),
        value_axis(values, "units", integers=True),
        [Series("stock on hand", points, "stock", STOCK, step=True, area=True)],
        [Level(f"reorder point {item['reorder_point']}", item["reorder_point"], "reorder",
               REORDER),
         Level(f"target {item['target_level']}", item["target_level"], "target", TARGET, "2 3")],
        css="stock-chart")
    rule = {"default": "default rule", "manual": "manual rule", "learned": "learned rule"}
    count = item["movements"]
    moved = (f"{count} movement{'s' if count != 1 else ''} shown" if count
             else "no movements in the window")
    caption = (f"{item['factory_name']} · {rule.get(item['policy'], item['policy'])} · "
               f"{moved} · now {item['quantity']}")
    return {"item_id": item["item_id"], "name": item["name"], "svg": svg, "caption": caption}


def duration_unit(longest: float) -> tuple[int, str]:
    """The unit the longest lead time reads best in: seconds, minutes, hours or days."""
    return next((size, name) for size, name, limit in UNITS if limit is None or longest < limit)


def duration(seconds: float, unit: tuple[int, str] | None = None) -> str:
    size, name = unit or duration_unit(seconds)
    return f"{seconds / size:.3g} {name}"


def lead_time_chart(factory: dict) -> dict:
    orders = factory["orders"]
    seconds = [o["actual_seconds"] for o in orders] + [
        o["promised_seconds"] for o in orders if o["promised_seconds"] is not None]
    unit = duration_unit(max(seconds, default=0))
    size, name = unit
    times = [_epoch(o["fulfilled_at"]) for o in orders]
    actual = [(t, o["actual_seconds"] / size) for t, o in zip(times, orders, strict=True)]
    promised = [(t, o["promised_seconds"] / size) for t, o in zip(times, orders, strict=True)
                if o["promised_seconds"] is not None]
    tips = [f"order #{o['replenishment_order_id']} ({o['item_name']}): "
            f"{duration(o['actual_seconds'], unit)}"
            + (f", promised {duration(o['promised_seconds'], unit)}"
               if o["promised_seconds"] is not None else ", no promise recorded")
            for o in orders]
    promised_tips = [tip for tip, o in zip(tips, orders, strict=True)
                     if o["promised_seconds"] is not None]
    x = Axis(0, 1, [])
    if times:  # a little room either side, so the first and last markers clear the frame
        pad = (max(times) - min(times) or 600) * 0.04
        x = time_axis(min(times) - pad, max(times) + pad, label="fulfilled (UTC)")
    svg = chart(factory["name"], x, value_axis([s / size for s in seconds], f"lead time ({name})"),
                [Series("actual", actual, "actual", ACTUAL,
                        markers=True, tips=tips),
                 Series("promised", promised, "promised", PROMISED, "4 3",
                        markers=True, tips=promised_tips)],
                empty="No fulfilled replenishment orders yet.", css="lead-time-chart")
    return {"factory_id": factory["factory_id"], "name": factory["name"], "svg": svg,
            "caption": _lead_time_summary(orders, unit)}


def _lead_time_summary(orders: list[dict], unit: tuple[int, str]) -> str:
    """Medians in the chart's unit, and how many orders came later than promised."""
    if not orders:
        return "no fulfilled orders"
    actual = [o["actual_seconds"] for o in orders]
    promised = [o for o in orders if o["promised_seconds"] is not None]
    text = (f"{len(orders)} order{'s' if len(orders) > 1 else ''} · "
            f"median {duration(median(actual), unit)}")
    if promised:
        late = sum(o["actual_seconds"] > o["promised_seconds"] for o in promised)
        text += (f" vs {duration(median(o['promised_seconds'] for o in promised), unit)}"
                 " promised · "
                 f"{late} of {len(promised)} later than promised")
    return text


def charts(data: dict) -> dict:
    """Everything the page's two chart panels show."""
    return {"stock": [stock_chart(item, data["now"], data["since"]) for item in data["stock"]],
            "items_total": data["items_total"], "history_days": data["history_days"],
            "lead_times": [lead_time_chart(factory) for factory in data["lead_times"]],
            "factories_total": data["factories_total"]}
