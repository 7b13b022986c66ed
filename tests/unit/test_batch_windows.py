"""Batch windows per queue (inventory_core.topology): none where a buyer waits for a restock, a few
seconds where batching saves invocations and nobody waits. The local pollers and the deployed
event sources take them from the topology (tests/deploy/test_settings.py checks the deployed side,
tests/e2e/test_event_sources.py the local one)."""
from __future__ import annotations

from inventory_core.topology import (
    EFFICIENT_BATCH_WINDOW,
    RESTOCK_PATH_BATCH_WINDOW,
    TOPOLOGY,
)

# A failed purchase is restocked through these, one after the other: each window adds its length.
RESTOCK_PATH = ("order", "production", "delivery")


def test_the_restock_path_is_the_chain_of_events_from_request_to_delivery():
    # order consumes replenishment.requested; production the factory's production.due; delivery
    # production.completed: the events a shortage sets off, in order.
    consumed = {q.key: {t for t, d in TOPOLOGY.event_types.items()
                        if d in q.topics or d == f"queue:{q.key}"} for q in TOPOLOGY.queues}
    assert "replenishment.requested" in consumed["order"]
    assert consumed["production"] == {"production.due"}
    assert consumed["delivery"] == {"production.completed"}


def test_no_window_on_the_restock_path_and_batching_where_nobody_waits():
    windows = {q.key: q.batch_window for q in TOPOLOGY.queues}
    assert RESTOCK_PATH_BATCH_WINDOW == 0
    assert all(windows[key] == RESTOCK_PATH_BATCH_WINDOW for key in RESTOCK_PATH), windows
    others = {key: window for key, window in windows.items() if key not in RESTOCK_PATH}
    assert others == {"notification": EFFICIENT_BATCH_WINDOW}
    # AWS: 0 to 300 s (MaximumBatchingWindowInSeconds); more than 0 makes batching worth it.
    assert 1 <= EFFICIENT_BATCH_WINDOW <= 300
    # The three add up to what a buyer waits beyond the work itself (the goal: p50 <= 1 s).
    assert sum(windows[key] for key in RESTOCK_PATH) < 1
