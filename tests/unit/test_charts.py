"""The server-drawn SVG charts (api_common.charts, and the dashboard's two in shop_api/charts.py):
points land where the axes say, the reorder point and target are drawn at their values, every
text is escaped, and no data draws a sensible empty chart. Read back as XML: the markup must be
well-formed for a browser to draw it at all."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from api_common.charts import Axis, Level, Series, chart, time_axis, value_axis
from shop_api import charts

NS = {"s": "http://www.w3.org/2000/svg"}
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def plot_box(svg: ET.Element) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the plot, read from its two axis lines."""
    y_axis, x_axis = svg.findall("s:g[@class='axis']/s:line", NS)
    return (float(y_axis.get("x1")), float(y_axis.get("y1")), float(x_axis.get("x2")),
            float(x_axis.get("y1")))


def points(element: ET.Element) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in pair.split(",")) for pair in element.get("points").split()]


def by_class(svg: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return [e for e in svg.iter(f"{{{NS['s']}}}{tag}") if css in e.get("class", "").split()]


def test_points_map_to_the_plot_corners_and_centre():
    x, y = Axis(100, 300, [(100, "a"), (300, "b")]), Axis(0, 10, [(0, "0"), (10, "10")])
    svg = parse(chart("t", x, y, [Series("s", [(100, 0), (200, 5), (300, 10)], "s")]))
    left, top, right, bottom = plot_box(svg)
    assert right - left > 200 and bottom - top > 80  # a real plot, not a sliver
    [line] = by_class(svg, "polyline", "s")
    assert points(line) == [(left, bottom), (round((left + right) / 2, 1), (top + bottom) / 2),
                            (right, top)]


def test_a_step_series_holds_each_value_until_the_next_point():
    x, y = Axis(0, 2, []), Axis(0, 10, [])
    svg = parse(chart("t", x, y, [Series("s", [(0, 0), (1, 10), (2, 5)], "s", step=True)]))
    left, top, right, bottom = plot_box(svg)
    middle, half = round((left + right) / 2, 1), (top + bottom) / 2
    [line] = by_class(svg, "polyline", "s")
    assert points(line) == [(left, bottom), (middle, bottom), (middle, top), (right, top),
                            (right, half)]


def test_the_stock_chart_draws_the_level_its_reorder_point_and_target():
    item = {"item_id": 1, "name": "Item1", "factory_name": "Factory1", "quantity": 4,
            "reorder_point": 5, "target_level": 20, "policy": "manual", "movements": 2,
            "points": [(NOW - timedelta(minutes=10), 0), (NOW - timedelta(minutes=10), 20),
                       (NOW - timedelta(minutes=5), 4)]}
    drawn = charts.stock_chart(item, NOW, NOW - timedelta(days=14))
    svg = parse(drawn["svg"])
    left, top, right, bottom = plot_box(svg)
    [reorder], [target] = by_class(svg, "line", "reorder"), by_class(svg, "line", "target")
    # Axis 0..20 (the target is the highest value): target at the top, reorder point 5/20 up.
    assert float(target.get("y1")) == top
    assert float(reorder.get("y1")) == pytest.approx(bottom - (bottom - top) * 5 / 20, abs=0.1)
    assert float(reorder.get("x1")) == left and float(reorder.get("x2")) == right
    legend = [t.text for t in svg.iter(f"{{{NS['s']}}}text")]
    assert {"stock on hand", "reorder point 5", "target 20"} <= set(legend)
    [line] = by_class(svg, "polyline", "stock")
    assert points(line)[-1] == (right, pytest.approx(bottom - (bottom - top) * 4 / 20, abs=0.1))
    assert drawn["caption"] == "Factory1 · manual rule · 2 movements shown · now 4"


def test_an_item_that_did_not_move_is_flat_at_its_quantity_over_the_window():
    item = {"item_id": 2, "name": "Item2", "factory_name": "F", "quantity": 3, "reorder_point": 1,
            "target_level": 10, "policy": "default", "movements": 0, "points": []}
    svg = parse(charts.stock_chart(item, NOW, NOW - timedelta(days=14))["svg"])
    left, _, right, _ = plot_box(svg)
    [line] = by_class(svg, "polyline", "stock")
    (x0, y0), *_, (x1, y1) = points(line)
    assert (x0, x1) == (left, right) and y0 == y1


def test_names_are_escaped_in_text_and_attributes():
    name = '<script>alert(1)</script> & "Q" \'s'
    item = {"item_id": 3, "name": name, "factory_name": "<i>F</i>", "quantity": 1,
            "reorder_point": 1, "target_level": 10, "policy": "manual", "movements": 0,
            "points": []}
    markup = str(charts.stock_chart(item, NOW, NOW - timedelta(days=1))["svg"])
    assert "<script" not in markup and "<i>" not in markup
    svg = parse(markup)  # well-formed
    assert svg.get("aria-label") == name
    assert svg.find("s:title", NS).text == name
    series = Series('a "b" <c>', [(0, 1)], 'x" onload="y', markers=True, tips=["<b>tip</b>"])
    markup = str(chart("t", Axis(0, 1, []), Axis(0, 1, []), [series]))
    assert "<b>" not in markup and 'onload="y' not in markup
    [circle] = by_class(parse(markup), "circle", "marker")
    assert circle.find("s:title", NS).text == "<b>tip</b>"


def test_a_factory_without_fulfilled_orders_draws_an_empty_chart():
    drawn = charts.lead_time_chart({"factory_id": 1, "name": "Factory1", "orders": []})
    svg = parse(drawn["svg"])
    texts = [t.text for t in svg.iter(f"{{{NS['s']}}}text")]
    assert "No fulfilled replenishment orders yet." in texts
    assert by_class(svg, "circle", "marker") == [] and by_class(svg, "polyline", "line") == []
    assert drawn["caption"] == "no fulfilled orders"


def test_lead_times_promised_against_actual_in_a_readable_unit():
    orders = [{"replenishment_order_id": 7, "item_name": "Item1", "fulfilled_at": NOW,
               "actual_seconds": 150.0, "promised_seconds": 120.0},
              {"replenishment_order_id": 8, "item_name": "Item1",
               "fulfilled_at": NOW + timedelta(minutes=5), "actual_seconds": 60.0,
               "promised_seconds": None}]
    drawn = charts.lead_time_chart({"factory_id": 1, "name": "Factory1", "orders": orders})
    svg = parse(drawn["svg"])
    left, top, right, bottom = plot_box(svg)
    actual, promised = by_class(svg, "circle", "actual"), by_class(svg, "circle", "promised")
    assert len(actual) == 2 and len(promised) == 1  # no promise recorded: no promised point
    assert "lead time (min)" in [t.text for t in svg.iter(f"{{{NS['s']}}}text")]
    # Minutes on an axis 0..3: 2.5 min actual, 2 min promised, both at the first order's time.
    scale = (bottom - top) / 3
    assert float(actual[0].get("cy")) == pytest.approx(bottom - 2.5 * scale, abs=0.1)
    assert float(promised[0].get("cy")) == pytest.approx(bottom - 2 * scale, abs=0.1)
    # Five minutes apart, with 4 % of room either side.
    width = (right - left) / 1.08
    assert float(actual[0].get("cx")) == float(promised[0].get("cx"))
    assert float(actual[0].get("cx")) == pytest.approx(left + 0.04 * width, abs=0.1)
    assert float(actual[1].get("cx")) == pytest.approx(right - 0.04 * width, abs=0.1)
    assert actual[0].find("s:title", NS).text == ("order #7 (Item1): 2.5 min, "
                                                  "promised 2 min")
    assert "no promise recorded" in actual[1].find("s:title", NS).text
    assert drawn["caption"] == ("2 orders · median 1.75 min vs 2 min promised · "
                                "1 of 1 later than promised")


@pytest.mark.parametrize("seconds,unit", [(59, "s"), (119, "s"), (600, "min"), (5 * 3600, "h"),
                                          (3 * 86400, "days")])
def test_lead_times_read_in_seconds_minutes_hours_or_days(seconds, unit):
    assert charts.duration_unit(seconds)[1] == unit


def test_axes_have_round_ticks():
    axis = value_axis([0, 7, 13], integers=True)
    assert (axis.low, axis.high) == (0, 15) and [t for t, _ in axis.ticks] == [0, 5, 10, 15]
    assert value_axis([]).ticks == []  # nothing measured: no made-up scale
    start = datetime(2026, 12, 3, 10, 0, 7, tzinfo=UTC).timestamp()
    axis = time_axis(start, start + 2393)
    assert [label for _, label in axis.ticks] == ["10:10", "10:20", "10:30", "10:40"]


def test_levels_without_series_still_show_and_say_there_is_no_data():
    svg = parse(chart("t", Axis(0, 1, []), value_axis([10]), [], [Level("target 10", 10, "target",
                                                                         "#000")],
                      empty="Nothing yet."))
    assert by_class(svg, "line", "target")
    assert "Nothing yet." in [t.text for t in svg.iter(f"{{{NS['s']}}}text")]
