"""The database password rotates under load (RDS rotates its managed master password weekly):
no request fails and nothing restarts. On MariaDB, with the secret in moto, a dedicated user
whose password changes the way Secrets Manager's rotation changes it: the new version is first
AWSPENDING, the database gets it (setSecret), then it becomes AWSCURRENT (finishSecret)."""
from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from inventory_core.adapters import db
from inventory_core.config import Settings
from inventory_core.databases import SHOP
from tests.conftest import MYSQL_SERVER_URL, new_database_url

REGION = "ap-northeast-2"
HOSTS = ("%", "localhost", "127.0.0.1")  # whichever entry MariaDB matches for our TCP login


@pytest.fixture
def rotating_user(mysql_backend, tmp_path):
    """A database of its own and a user `deploy_rot_…` that may use it; both dropped after."""
    url, drop = new_database_url("mysql", tmp_path, "rotation")
    user, password = f"deploy_rot_{uuid.uuid4().hex[:8]}", "first-pass-1"
    root = create_engine(MYSQL_SERVER_URL)
    with root.begin() as conn:
        for host in HOSTS:
            conn.execute(text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"))
            conn.execute(text(f"GRANT ALL ON `{make_url(url).database}`.* TO "
                              f"'{user}'@'{host}'"))
        conn.execute(text(f"CREATE TABLE `{make_url(url).database}`.probe (n INT)"))
        conn.execute(text(f"INSERT INTO `{make_url(url).database}`.probe VALUES (1)"))

    def set_password(new: str) -> None:
        with root.begin() as conn:
            for host in HOSTS:
                conn.execute(text(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY '{new}'"))

    yield make_url(url).set(username=user, password=None), user, password, set_password
    db.dispose_all()
    with root.begin() as conn:
        for host in HOSTS:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
    root.dispose()
    drop()


@mock_aws
def test_rotation_under_load_fails_no_request_and_needs_no_restart(rotating_user):
    url, user, first, set_password = rotating_user
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name=f"rds!db-{user}", SecretString=json.dumps(
        {"username": user, "password": first}))["ARN"]
    db.credentials.clear()
    settings = Settings(shop_database_url=url.render_as_string(hide_password=False),
                        shop_database_secret_arn=arn)
    engine = db.get_engine(settings.shop_database_url, arn)
    assert SHOP.sessions(settings).kw["bind"] is engine  # the services' engine, not a copy
    assert engine.url.password is None  # the password never sits in the engine

    failures, done, stop = [], [0], threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                with SHOP.sessions(settings)() as session:
                    assert session.execute(text("SELECT n FROM probe")).scalar() == 1
                    # a fresh connection next time, as after pool_recycle or a new container
                    session.connection().invalidate()
                done[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                failures.append(repr(exc))

    def progressed() -> None:
        """Wait (by progress, not by the clock: a loaded machine is slow) until a few more
        queries have succeeded from now on; fail on a failed query or when none come."""
        since = done[0]
        deadline = time.monotonic() + 60
        while done[0] <= since + 2 and time.monotonic() < deadline and not failures:
            time.sleep(0.05)
        assert failures == []
        assert done[0] > since + 2, f"no progress in 60 s: {done[0] - since} queries"

    # Daemons: one that hangs is reported below and does not hold the test run open.
    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        progressed()
        # Secrets Manager's rotation, step by step:
        second = "second-pass-2"
        version = secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(
            {"username": user, "password": second}), VersionStages=["AWSPENDING"])["VersionId"]
        set_password(second)  # setSecret: the database has it, AWSCURRENT is still the old one
        progressed()  # after the password changed
        current = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
        old_version = next(v for v, stages in current.items() if "AWSCURRENT" in stages)
        secrets.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                            MoveToVersionId=version,
                                            RemoveFromVersionId=old_version)
        progressed()  # and after the secret did: it kept serving throughout
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not [t for t in threads if t.is_alive()], "a worker hangs after the rotation"
    assert failures == []
    assert db.get_engine(settings.shop_database_url, arn) is engine  # no new engine, no restart
    assert db.credentials.get(arn) == (user, second)


@mock_aws
def test_a_cached_password_that_went_stale_is_refetched_once(rotating_user):
    """The old per-process cache would fail every new connection until a restart."""
    url, user, first, set_password = rotating_user
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name=f"rds!db-{user}-b", SecretString=json.dumps(
        {"username": user, "password": first}))["ARN"]
    db.credentials.clear()
    fetched = []
    real_fetch = db.credentials.fetch
    db.credentials.fetch = lambda *a: fetched.append(a) or real_fetch(*a)
    try:
        engine = db.get_engine(url.render_as_string(hide_password=False), arn)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM probe")).scalar() == 1
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(
            {"username": user, "password": "third-pass-3"}))
        set_password("third-pass-3")
        engine.dispose()  # the next connection is a new login, with the cached (old) password
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM probe")).scalar() == 1
        assert len(fetched) == 2  # first use, and once more after error 1045
    finally:
        db.credentials.fetch = real_fetch
