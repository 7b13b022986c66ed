"""Metrics in CloudWatch's embedded metric format (EMF): one JSON object per line on stdout.

On Lambda, CloudWatch Logs extracts the metrics from the function's log with no API call and no
agent (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html);
locally the same lines appear in the process's output. Written by hand: the spec is one small
JSON shape, and Powertools' Metrics would add a dependency and import time to every cold start.

    metrics.emit("Purchases", item="Item1")
    metrics.emit("ReplenishmentLeadTime", 12.5, unit="Seconds", factory="1")

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
    if unit not in UNITS:
        raise ValueError(f"{unit!r} is not a CloudWatch unit")
    dims = {key[:1].upper() + key[1:]: str(val) for key, val in dimensions.items()}
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": metrics_namespace(),
                "Dimensions": [sorted(dims)],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        **dims,
        name: value,
    }


def emit(name: str, value: float = 1.0, unit: str = "Count", **dimensions: object) -> None:
    """Write one metric value as an EMF line on stdout."""
    line = json.dumps(record(name, value, unit, **dimensions), separators=(",", ":"))
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (OSError, ValueError) as exc:  # a closed or broken stdout must not fail a sale
        log.warning("metric %s not written: %s", name, exc)
