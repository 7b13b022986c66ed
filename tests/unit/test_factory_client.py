"""The order consumer never starts a factory call that could outlive its Lambda invocation."""
import time

import pytest

from consumers import factory_client


class RecordingSession:
    def __init__(self, exception):
        self.calls, self.exception = 0, exception

    def request(self, *args, **kwargs):
        self.calls += 1
        raise self.exception


@pytest.fixture
def session(monkeypatch):
    fake = RecordingSession(factory_client.requests.ConnectionError("refused"))
    monkeypatch.setattr(factory_client, "_session", lambda: fake)
    monkeypatch.setattr(factory_client, "BACKOFF_SECONDS", 0.01)
    return fake


def test_no_call_starts_when_its_timeouts_would_pass_the_deadline(session):
    deadline = time.monotonic() + sum(factory_client.TIMEOUT) - 1
    with pytest.raises(factory_client.FactoryUnavailable, match="no time left"):
        factory_client.request_production("http://factory", {"replenishment_order_id": 1},
                                          region="ap-northeast-2",
                                          deadline=deadline)
    assert session.calls == 0


def test_retries_only_while_a_whole_call_still_fits(session, monkeypatch):
    monkeypatch.setattr(factory_client, "BACKOFF_SECONDS", 2.0)
    deadline = time.monotonic() + sum(factory_client.TIMEOUT) + 1.0  # one call, not the pause
    with pytest.raises(factory_client.FactoryUnavailable):
        factory_client.request_production("http://factory", {"replenishment_order_id": 1},
                                          region="ap-northeast-2",
                                          deadline=deadline)
    assert session.calls == 1


def test_without_a_deadline_every_attempt_is_made(session):
    with pytest.raises(factory_client.FactoryUnavailable, match="after 3 attempt"):
        factory_client.request_production("http://factory", {"replenishment_order_id": 1},
                                          region="ap-northeast-2")
    assert session.calls == factory_client.ATTEMPTS
