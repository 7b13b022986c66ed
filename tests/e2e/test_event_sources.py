"""The consumers part takes its pollers from the topology, and skips (loudly) a consumer whose
module does not exist instead of crashing or receiving messages it cannot handle."""
from __future__ import annotations

import dataclasses
import logging
import uuid

import pytest

from inventory_core.adapters.messaging import Messaging, ensure_topology
from inventory_core.config import Settings
from inventory_core.topology import TOPOLOGY
from local_stack.event_sources import build_pollers, function_problem

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_function_problem_names_what_is_wrong():
    assert function_problem("consumers.delivery.handler") is None
    assert function_problem("consumers.no_such_consumer.handler") == \
        "module consumers.no_such_consumer does not exist"
    assert function_problem("consumers.delivery.no_such_function") == \
        "module consumers.delivery has no function no_such_function"


def test_every_queue_and_dlq_gets_a_poller_except_a_missing_consumer(moto_endpoint, caplog):
    settings = Settings(aws_endpoint_url=moto_endpoint, name_prefix=f"t{uuid.uuid4().hex[:10]}")
    ensure_topology(settings, visibility_timeout=5)
    first, *rest = TOPOLOGY.queues
    topology = dataclasses.replace(TOPOLOGY, queues=(
        dataclasses.replace(first, consumer="consumers.not_written_yet.handler"), *rest))
    with caplog.at_level(logging.WARNING, logger="local_stack.event_sources"):
        pollers = build_pollers(Messaging(settings), topology, wait_seconds=0)
    names = {p.name: p.function for p in pollers}
    expected = {q.key: q.consumer for q in rest}
    expected.update({f"{q.key}-dlq": TOPOLOGY.dead_letter_consumer for q in TOPOLOGY.queues})
    assert names == expected  # the broken one is skipped, its DLQ is still drained
    assert f"SKIPPED queue {first.key}" in caplog.text
    assert "module consumers.not_written_yet does not exist" in caplog.text


def test_local_pollers_batch_with_the_topologys_windows(moto_endpoint):
    """The local stack waits exactly as long as Lambda will (deploy.settings writes the same
    values into the event source mappings)."""
    settings = Settings(aws_endpoint_url=moto_endpoint, name_prefix=f"t{uuid.uuid4().hex[:10]}")
    ensure_topology(settings, visibility_timeout=5)
    pollers = {p.name: p for p in build_pollers(Messaging(settings), TOPOLOGY, wait_seconds=0)}
    for queue in TOPOLOGY.queues:
        assert (pollers[queue.key].batch_size, pollers[queue.key].batch_window) == \
            (queue.batch_size, queue.batch_window)
        dead = pollers[f"{queue.key}-dlq"]
        assert (dead.batch_size, dead.batch_window) == \
            (TOPOLOGY.dead_letter_batch_size, TOPOLOGY.dead_letter_batch_window)
