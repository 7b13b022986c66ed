"""The outbox's retry policy and its configuration: how long a failed row waits, when it is
parked, and what the environment may say about it."""
from __future__ import annotations

import pytest

from inventory_core.adapters.messaging import REQUEST_PATH, REQUEST_PATH_BUDGET_SECONDS, SWEEP
from inventory_core.adapters.outbox import MAX_BACKOFF_SECONDS, Breaker, RetryPolicy
from inventory_core.config import Settings
from inventory_core.databases import retry_policy


def test_the_first_failure_waits_for_nothing_then_the_wait_doubles_up_to_a_cap():
    policy = RetryPolicy(max_attempts=10, backoff_seconds=5)
    assert [policy.delay(n) for n in range(1, 7)] == [0, 5, 10, 20, 40, 80]
    assert policy.delay(30) == MAX_BACKOFF_SECONDS == 900
    assert RetryPolicy(backoff_seconds=0).delay(5) == 0


def test_the_policy_comes_from_the_environment():
    settings = Settings.from_env({"OUTBOX_MAX_ATTEMPTS": "4", "OUTBOX_BACKOFF_SECONDS": "0"})
    assert retry_policy(settings) == RetryPolicy(max_attempts=4, backoff_seconds=0)
    assert retry_policy(Settings.from_env({})) == RetryPolicy(max_attempts=10, backoff_seconds=5)


@pytest.mark.parametrize("name, value", [("OUTBOX_MAX_ATTEMPTS", "0"),
                                         ("OUTBOX_MAX_ATTEMPTS", "ten"),
                                         ("OUTBOX_BACKOFF_SECONDS", "-1"),
                                         ("OUTBOX_BACKOFF_SECONDS", "2.5")])
def test_a_bad_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_the_request_path_client_fits_its_budget_and_the_sweeps_fits_a_short_lambda():
    # One attempt, connect + read: the relay starts a publish only when this much is left.
    assert REQUEST_PATH.attempts == 1
    assert REQUEST_PATH.worst_case_seconds <= REQUEST_PATH_BUDGET_SECONDS - 0.25
    assert REQUEST_PATH.config().retries == {"total_max_attempts": 1, "mode": "standard"}
    assert SWEEP.worst_case_seconds == 3


def test_a_sweep_gives_up_on_a_destination_after_three_failures_in_a_row():
    breaker = Breaker()
    for published in (False, False, True, False, False):  # a success resets the count
        breaker.record("stock_events", published)
    assert breaker.allows("stock_events") and breaker.broken == set()
    breaker.record("stock_events", False)
    assert not breaker.allows("stock_events") and breaker.broken == {"stock_events"}
    assert breaker.allows("replenishment_requested")
