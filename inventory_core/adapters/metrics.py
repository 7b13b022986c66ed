"""Metrics in CloudWatch's embedded metric format (EMF): one JSON object per line on stdout.

On Lambda, CloudWatch Logs extracts the metrics from the function's log with no API call and no
agent (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html);
locally the same lines appear in the process's output. Written by hand: the spec is one small
JSON shape, and Powertools' Metrics would add a dependency and import time to every cold start.

    metrics.emit("Purchases", item="Item1")
    metrics.emit("ReplenishmentLeadTime", 12.5, unit="Seconds", factory="1")
    metrics.emit_values({"Purchases": 1, "UnitsSold": 3}, item="Item1")  # one line, two metrics

Dimension names are capitalised in the record (`item` -> `Item`), as CloudWatch convention has it.
A failure to write a metric never fails the work it measures.
"""
from __future__ import annotations

import json
import logging
import sys
import time

from inventory_core.config import metrics_namespace

log = logging.getLogger(__name__)

UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
})


def record(name: str, value: float = 1.0, unit: str = "Count", **dimensions: object) -> dict:
    """The EMF object for one metric value (no I/O)."""
    return record_values({name: value}, unit, **dimensions)


def record_values(values: dict[str, float], unit: str = "Count", **dimensions: object) -> dict:
    """One EMF object for several metric values of one unit and the same dimensions: one log
    line that CloudWatch extracts each of them from (no I/O)."""
    if unit not in UNITS:
        raise ValueError(f"{unit!r} is not a CloudWatch unit")
    dims = {key[:1].upper() + key[1:]: str(val) for key, val in dimensions.items()}
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": metrics_namespace(),
                "Dimensions": [sorted(dims)],
                "Metrics": [{"Name": name, "Unit": unit} for name in values],
            }],
        },
        **dims,
        **values,
    }


# {(namespace, names, unit, dimension names): the line's two fixed parts}: json.dumps of the
# whole record costs more than the purchase it measures spends outside its statements; only the
# timestamp, the dimension values and the values change from one line of a metric to the next.
_templates: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], tuple[str, str]] = {}


def line(name: str, value: float = 1.0, unit: str = "Count", **dimensions: object) -> str:
    """`record(...)` as one JSON line (the same object; built from a cached template)."""
    return values_line({name: value}, unit, **dimensions)


def values_line(values: dict[str, float], unit: str = "Count", **dimensions: object) -> str:
    """`record_values(...)` as one JSON line."""
    key = (metrics_namespace(), tuple(values), unit, tuple(dimensions))
    template = _templates.get(key)
    if template is None:
        shape = record_values(values, unit, **dimensions)
        keys = [k for k in shape if k != "_aws" and k not in values]
        head = json.dumps(shape["_aws"]["CloudWatchMetrics"], separators=(",", ":"))
        template = _templates[key] = (
            '{"_aws":{"Timestamp":%d,"CloudWatchMetrics":' + head.replace("%", "%%") + "}",
            "".join(f",{json.dumps(k).replace('%', '%%')}:%s" for k in [*keys, *values]) + "}")
    head, tail = template
    rendered = (*(json.dumps(str(v)) for v in dimensions.values()),
                *(json.dumps(v) for v in values.values()))
    return head % int(time.time() * 1000) + tail % rendered


def emit(name: str, value: float = 1.0, unit: str = "Count", **dimensions: object) -> None:
    """Write one metric value as an EMF line on stdout."""
    emit_values({name: value}, unit, **dimensions)


def emit_values(values: dict[str, float], unit: str = "Count", **dimensions: object) -> None:
    """Write several metric values of one unit and the same dimensions as one EMF line."""
    text = values_line(values, unit, **dimensions)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (OSError, ValueError) as exc:  # a closed or broken stdout must not fail a sale
        log.warning("metrics %s not written: %s", ", ".join(values), exc)
