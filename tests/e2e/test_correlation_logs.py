"""`LOG_FORMAT=json make run`: every line the shop, factory, consumers and relay write is one JSON
object (behind the stack's part prefix): a log line, or a metric in CloudWatch's embedded metric
format. One purchase's X-Correlation-Id can be followed through every part's log lines, from the
shortage to the restock, and the shortage and the lead time appear as metrics."""
from __future__ import annotations

import json
import re

import pytest
import requests

from tests.e2e.test_local_stack import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(300)]

FLOW = "e2e-shortage-0001"
OUR_PARTS = ("shop", "factory", "consumers", "relay")
PREFIXED = re.compile(r"^\[(\w+)\] +(.*)$")


def json_lines(lines: list[str]) -> list[tuple[str, dict]]:
    """(part, JSON object) for every line of our parts; fails on one that is not JSON."""
    found = []
    for line in lines:
        match = PREFIXED.match(line)
        if match and match.group(1) in OUR_PARTS:
            part, text = match.groups()
            try:
                found.append((part, json.loads(text)))
            except ValueError:
                pytest.fail(f"not a JSON line of [{part}]: {text}")
    return found


def test_one_purchase_is_followed_through_every_part_by_its_correlation_id(start_stack):
    stack = start_stack(LOG_FORMAT="json", PRODUCTION_SECONDS="0")
    answer = requests.post(f"{stack.shop_url}/purchases", timeout=10, headers={
        "X-Correlation-Id": FLOW}, json={"item_name": "Item2", "quantity": 5,
                                         "requester": "e2e"})
    assert (answer.status_code, answer.headers["X-Correlation-Id"]) == (409, FLOW)

    def restocked() -> list[tuple[str, dict]]:
        lines = json_lines(stack.process.lines)
        told = " ".join(line.get("message", "") for _, line in lines)
        # the restock and the notification, whichever comes last (two queues, two pollers)
        done = "restocked item 2" in told and "replenishment.requested for item 2" in told
        return lines if done else []

    everything = wait_until(restocked, 60, "the restock and the notification logged", stack)
    lines = [(part, line) for part, line in everything if "_aws" not in line]
    metrics = {(part, line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
                tuple(sorted((k, v) for k, v in line.items() if k[:1].isupper())))
               for part, line in everything if "_aws" in line}
    assert ("shop", "Shortages", (("Item", "Item2"), ("Shortages", 1.0))) in metrics
    assert any(part == "consumers" and name == "ReplenishmentLeadTime"
               and dict(values)["Factory"] == "Factory2" for part, name, values in metrics)
    flow = [(part, line) for part, line in lines if line.get("correlation_id") == FLOW]
    story = [(part, line["logger"], line["message"]) for part, line in flow]

    def told(part: str, text: str) -> bool:
        return any(p == part and text in message for p, _, message in story)

    assert told("shop", "purchase #1 short: 5 x Item2 wanted, 2 in stock; replenishment order "
                        "#1 (8 units, requested)"), story
    assert told("shop", '"POST /purchases HTTP/1.1" 409'), story  # gunicorn's access line
    assert told("factory", "production order #1 accepted for replenishment order #1"), story
    assert told("consumers", "replenishment order #1 accepted by the factory"), story
    assert told("consumers", "replenishment.requested for item 2: ad unchanged, 1 e-mail"), story
    assert told("consumers", "production order 1: completed"), story
    assert told("consumers", "restocked item 2: +8 -> 10 (replenishment order #1"), story
    for part, line in lines:
        assert {"time", "level", "service", "logger", "message"} <= set(line), line
        assert line["service"] == part, line  # gunicorn's lines too: --name
    # Nothing of another flow was stamped with this one (the pollers' own lines carry none).
    assert not any(line.get("correlation_id") == FLOW for part, line in lines
                   if line["logger"] == "local_stack.event_sources")
