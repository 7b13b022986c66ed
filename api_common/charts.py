"""Line charts as SVG markup, drawn on the server: no script and no CDN, so nothing for the
dashboard's content-security policy (api_common/headers.py) to refuse, and the page reads the
same with JavaScript off. The dashboard's charts (shop_api/charts.py) and the simulation chart in
docs/demand-simulation.svg (bench/reorder_sim.py) are both drawn here.

Every text is escaped here (item and factory names are typed in by people); the result is
`Markup`, safe to put into a Jinja template as it is. Colours are presentation attributes, so a
standalone .svg file has them; on the dashboard the CSS classes override them (dark mode)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 360, 190
FONT_SIZE = 11
CHAR_WIDTH = 5.8  # an average glyph at FONT_SIZE in a sans-serif: enough to lay out the legend


@dataclass(frozen=True)
class Series:
    """One line. `points` are (x, y) with x ascending; `tips` (one per point, optional) become
    hover titles of the markers."""
    label: str
    points: Sequence[tuple[float, float]]
    css: str  # its class: the dashboard's stylesheet colours it
    colour: str = "#2f6fde"
    dash: str = ""
    step: bool = False  # hold each value until the next point (a stock level, not a trend)
    markers: bool = False
    area: bool = False  # shade below the line
    tips: Sequence[str] = ()


@dataclass(frozen=True)
class Level:
    """A horizontal line across the plot (a reorder point, a target)."""
    label: str
    value: float
    css: str
    colour: str
    dash: str = "5 3"


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    ticks: Sequence[tuple[float, str]]  # (where, label)
    label: str = ""


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def value_axis(values: Sequence[float], label: str = "", count: int = 4,
               integers: bool = False, fmt: Callable[[float], str] = _number) -> Axis:
    """From zero to a round number at or above every value, with about `count` ticks."""
    if not values:
        return Axis(0, 1, [], label)  # nothing to measure: no made-up scale
    top = max([*values, 0]) or 1
    step = _nice_step(top, count)
    if integers:
        step = max(1, math.ceil(step))
    high = math.ceil(top / step - 1e-9) * step
    ticks = [(i * step, fmt(i * step)) for i in range(round(high / step) + 1)]
    return Axis(0, high, ticks, label)


# Clock-aligned tick spacings for a time axis, in seconds.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800, 2592000)


def time_axis(start: float, end: float, count: int = 4, label: str = "UTC") -> Axis:
    """Epoch seconds from `start` to `end`, ticks at round UTC clock times."""
    if end <= start:
        start, end = start - 30, start + 30
    step = next((s for s in _TIME_STEPS if (end - start) / s <= count), _TIME_STEPS[-1])
    fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%d %b"
    first = math.ceil(start / step) * step
    ticks = [(float(t), datetime.fromtimestamp(t, UTC).strftime(fmt))
             for t in range(int(first), int(end) + 1, step)]
    return Axis(start, end, ticks, label)


def _attr(**values: object) -> str:
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{escape(str(v), quote=True)}"'
                   for k, v in values.items() if v not in (None, ""))


def _legend(entries: Sequence[Series | Level], left: float, top: float,
            width: float) -> tuple[list[str], float]:
    """Legend entries in rows from (left, top); the markup and the height it took."""
    parts, x, y = [], left, top
    for entry in entries:
        size = 22 + CHAR_WIDTH * len(entry.label)
        if x > left and x + size > width:
            x, y = left, y + 15
        kind = "level" if isinstance(entry, Level) else "series"
        parts.append(f'<g class="legend-{kind} {escape(entry.css, quote=True)}">'
                     f'<line{_attr(x1=x, y1=y - 3, x2=x + 16, y2=y - 3, stroke=entry.colour)}'
                     f'{_attr(stroke_width=2, stroke_dasharray=entry.dash)}/>'
                     f'<text{_attr(x=x + 20, y=y)}>{escape(entry.label)}</text></g>')
        x += size + 10
    return parts, y - top + 15


def chart(title: str, x: Axis, y: Axis, series: Sequence[Series] = (),
          levels: Sequence[Level] = (), empty: str = "No data yet.", width: int = WIDTH,
          height: int = HEIGHT, background: str | None = None, css: str = "") -> Markup:
    """The chart as one <svg> element. With no point in any series it draws the frame, the levels
    and `empty` in the middle of the plot."""
    left, right, bottom = 40, 10, 20 + (13 if x.label else 0)
    legend, legend_height = _legend([*series, *levels], 4, 33, width - right)
    top = 33 + legend_height + (11 if y.label else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    x_span, y_span = (x.high - x.low) or 1, (y.high - y.low) or 1

    def px(value: float) -> float:
        return round(left + plot_w * (min(max(value, x.low), x.high) - x.low) / x_span, 1)

    def py(value: float) -> float:
        return round(top + plot_h - plot_h * (min(max(value, y.low), y.high) - y.low) / y_span, 1)

    label = escape(title)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg"{_attr(class_=f"chart {css}".strip())}'
              f' viewBox="0 0 {width} {height}" role="img" font-family="sans-serif"'
              f' font-size="{FONT_SIZE}" fill="#475467"{_attr(aria_label=title)}>'),
             f"<title>{label}</title>"]
    if background:
        parts.append(f'<rect width="{width}" height="{height}"{_attr(fill=background)}/>')
    parts.append(f'<text class="chart-title"{_attr(x=4, y=15)} font-size="13"'
                 f' font-weight="600" fill="#1d2430">{label}</text>')
    parts += legend
    parts.append('<g class="grid" stroke="#e3e6eb">')
    for where, _ in y.ticks:
        parts.append(f"<line{_attr(x1=left, y1=py(where), x2=left + plot_w, y2=py(where))}/>")
    parts.append("</g>")
    parts.append(f'<g class="axis" stroke="#98a2b3">'
                 f"<line{_attr(x1=left, y1=top, x2=left, y2=top + plot_h)}/>"
                 f"<line{_attr(x1=left, y1=top + plot_h, x2=left + plot_w, y2=top + plot_h)}/></g>")
    for where, text in y.ticks:
        parts.append(f'<text class="tick"{_attr(x=left - 4, y=py(where) + 3)}'
                     f' text-anchor="end">{escape(text)}</text>')
    for where, text in x.ticks:
        anchor = ("start" if px(where) < left + 20 else
                  "end" if px(where) > left + plot_w - 20 else "middle")
        parts.append(f'<text class="tick"{_attr(x=px(where), y=top + plot_h + 14)}'
                     f'{_attr(text_anchor=anchor)}>{escape(text)}</text>')
    if y.label:
        parts.append(f'<text class="axis-label"{_attr(x=4, y=top - 8)}>{escape(y.label)}</text>')
    if x.label:
        parts.append(f'<text class="axis-label"{_attr(x=left + plot_w, y=height - 4)}'
                     f' text-anchor="end">{escape(x.label)}</text>')
    for level in levels:
        parts.append(f'<line class="level {escape(level.css, quote=True)}"'
                     f'{_attr(x1=left, y1=py(level.value), x2=left + plot_w, y2=py(level.value))}'
                     f'{_attr(stroke=level.colour, stroke_width=1.5, stroke_dasharray=level.dash)}>'
                     f"<title>{escape(level.label)}</title></line>")
    for line in series:
        parts += _series(line, px, py, top + plot_h)
    if not any(line.points for line in series):
        parts.append(f'<text class="empty"{_attr(x=left + plot_w / 2, y=top + plot_h / 2 + 4)}'
                     f' text-anchor="middle" font-style="italic">{escape(empty)}</text>')
    parts.append("</svg>")
    # Every text and attribute above went through escape() or _attr() (tests/unit/test_charts.py
    # checks a hostile item name), so the markup is ours alone.
    return Markup("\n".join(parts))  # nosec B704


def _series(line: Series, px: Callable[[float], float], py: Callable[[float], float],
            baseline: float) -> list[str]:
    if not line.points:
        return []
    path: list[tuple[float, float]] = []
    for i, (x, y) in enumerate(line.points):
        if line.step and i:
            path.append((px(x), path[-1][1]))
        path.append((px(x), py(y)))
    points = " ".join(f"{x},{y}" for x, y in path)
    css = escape(line.css, quote=True)
    parts = []
    if line.area:
        shape = f"{path[0][0]},{baseline} {points} {path[-1][0]},{baseline}"
        parts.append(f'<polygon class="area {css}"{_attr(points=shape, fill=line.colour)}'
                     f' fill-opacity="0.12" stroke="none"/>')
    parts.append(f'<polyline class="line {css}"{_attr(points=points, stroke=line.colour)}'
                 f'{_attr(stroke_dasharray=line.dash)} fill="none" stroke-width="1.6"'
                 f' stroke-linejoin="round"/>')
    if line.markers:
        hollow = bool(line.dash)  # a dashed series' markers are open circles, a solid one's filled
        for i, (x, y) in enumerate(line.points):
            tip = f"<title>{escape(line.tips[i])}</title>" if i < len(line.tips) else ""
            parts.append(f'<circle class="marker {css}{" hollow" if hollow else ""}"'
                         f'{_attr(cx=px(x), cy=py(y), r=3, stroke=line.colour)}'
                         f'{_attr(fill="#fff" if hollow else line.colour)} stroke-width="1.5">'
                         f"{tip}</circle>")
    return parts
