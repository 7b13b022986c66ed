"""The admin credential on AWS: the value of the Secrets Manager secret ADMIN_SECRET_ARN names
(moto's Secrets Manager over HTTP here), read on first use and re-read after a minute, so a
rotation takes effect with no deploy and signs every operator out; unreadable, every operator
surface refuses (503) and nothing else breaks."""
from __future__ import annotations

import boto3
import pytest

from inventory_core.adapters import secrets
from shop_api import create_app
from tests.helpers import sign_in

LOCAL_TOKEN = "the-local-admin-token-is-ignored"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(secrets, "now", fake)
    return fake


@pytest.fixture
def secretsmanager(settings):
    return boto3.client("secretsmanager", region_name=settings.aws_region,
                        endpoint_url=settings.aws_endpoint_url)


@pytest.fixture
def reads(monkeypatch):
    """How often Secrets Manager was asked for the value."""
    count = {"n": 0}
    real = secrets.secret_reader

    def counting(settings, secret_id):
        read = real(settings, secret_id)

        def counted():
            count["n"] += 1
            return read()
        return counted

    monkeypatch.setattr(secrets, "secret_reader", counting)
    monkeypatch.setattr("api_common.auth.secret_reader", counting)
    return count


def shop(settings, arn):
    app = create_app({"SETTINGS": settings.but(admin_token=LOCAL_TOKEN, admin_secret_arn=arn),
                      "PUBLISH_AFTER_COMMIT": False})
    return app.test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_credential_is_the_secrets_value_read_once_a_minute(settings, secretsmanager, clock,
                                                                reads):
    arn = secretsmanager.create_secret(Name=f"{settings.name_prefix}-admin",
                                       SecretString="first-credential\n")["ARN"]
    client = shop(settings, arn)
    assert reads["n"] == 0  # nothing read until someone needs it
    assert client.get("/admin/dead-letters", headers=bearer("first-credential")).status_code == 200
    assert client.get("/admin/dead-letters", headers=bearer(LOCAL_TOKEN)).status_code == 401
    for _ in range(5):
        client.get("/admin/dead-letters", headers=bearer("first-credential"))
    assert reads["n"] == 1


def test_a_rotation_takes_effect_within_a_minute_and_signs_operators_out(settings, secretsmanager,
                                                                         clock):
    arn = secretsmanager.create_secret(Name=f"{settings.name_prefix}-admin",
                                       SecretString="first-credential")["ARN"]
    client = shop(settings, arn)
    sign_in(client, "first-credential")
    secretsmanager.put_secret_value(SecretId=arn, SecretString="rotated-credential")
    assert client.get("/dashboard/state").status_code == 200  # still the cached value
    clock.now += secrets.CACHE_SECONDS
    assert client.get("/dashboard/state").status_code == 401  # the old session is void
    assert client.get("/admin/dead-letters", headers=bearer("first-credential")).status_code == 401
    rotated = client.get("/admin/dead-letters", headers=bearer("rotated-credential"))
    assert rotated.status_code == 200
    assert sign_in(client, "rotated-credential")


@pytest.mark.parametrize("problem", ["no-value-yet", "no-such-secret"])
def test_an_unreadable_secret_closes_operator_surfaces_only(settings, secretsmanager, clock,
                                                           problem):
    arn = (secretsmanager.create_secret(Name=f"{settings.name_prefix}-admin")["ARN"]
           if problem == "no-value-yet" else
           f"arn:aws:secretsmanager:{settings.aws_region}:123456789012:secret:missing-AbCdEf")
    client = shop(settings, arn)
    assert client.get("/admin/dead-letters", headers=bearer(LOCAL_TOKEN)).status_code == 503
    assert client.get("/dashboard/state").status_code == 503
    assert b"cannot be read" in client.get("/dashboard/login").data
    assert client.post("/dashboard/login", data={"credential": LOCAL_TOKEN}).status_code == 503
    assert client.get("/item").status_code == 200  # the shop itself goes on
    orders = client.get("/replenishment-orders", headers=bearer(LOCAL_TOKEN))
    assert orders.status_code == 200


def test_a_failed_read_is_remembered_briefly_and_never_answered_with_the_old_value():
    outcomes = iter(["one", secrets.SecretUnavailable("down"), "two"])
    reads = []

    def read():
        reads.append(1)
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    clock = FakeClock()
    cached = secrets.CachedSecret(read, ttl=60, clock=clock)
    assert cached.value() == "one"
    clock.now += 60
    for _ in range(3):  # expired, and the read fails: no stale value, one call to AWS
        with pytest.raises(secrets.SecretUnavailable):
            cached.value()
    assert len(reads) == 2
    clock.now += secrets.FAILURE_SECONDS
    assert cached.value() == "two" and len(reads) == 3


def test_the_cache_reads_again_only_after_its_time():
    values = iter(["one", "two"])
    clock = FakeClock()
    cached = secrets.CachedSecret(lambda: next(values), ttl=60, clock=clock)
    assert cached.value() == "one"
    clock.now += 59
    assert cached.value() == "one"
    clock.now += 1
    assert cached.value() == "two"
