"""deploy.tasks: the migrations a deployed function runs next to its database (`zappa invoke`)."""
from __future__ import annotations

import json

import boto3
from moto import mock_aws
from sqlalchemy import text
from sqlalchemy.engine import make_url

from deploy import tasks
from inventory_core.adapters.db import credentials, get_engine
from inventory_core.config import Settings


def test_prepare_and_upgrade_migrate_seed_once_and_are_idempotent(tmp_path, monkeypatch):
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    factory = f"sqlite:///{tmp_path / 'factory.db'}"
    monkeypatch.setenv("SHOP_DATABASE_URL", shop)
    monkeypatch.setenv("FACTORY_DATABASE_URL", factory)
    monkeypatch.delenv("SHOP_DATABASE_SECRET_ARN", raising=False)
    monkeypatch.delenv("FACTORY_DATABASE_SECRET_ARN", raising=False)

    assert tasks.upgrade_factory({}, None)["seeded"] is False
    first = tasks.prepare_shop({"command": "deploy.tasks.prepare_shop"}, None)
    assert first == {"database": "shop", "backend": "sqlite", "host": None,
                     "name": str(tmp_path / "shop.db"), "migrated": True, "seeded": True,
                     "tls_cipher": None}
    assert tasks.prepare_shop({}, None)["seeded"] is False  # a second run changes nothing
    assert tasks.prepare_factory({}, None)["seeded"] is True
    with get_engine(shop).connect() as connection:
        assert connection.execute(text("SELECT name, quantity FROM items ORDER BY item_id")).all() \
            == [("Item1", 1), ("Item2", 2), ("Item3", 3)]


@mock_aws
def test_database_url_takes_user_and_password_from_the_rds_secret():
    arn = boto3.client("secretsmanager", region_name="ap-northeast-2").create_secret(
        Name="rds!db-test", SecretString=json.dumps({"username": "admin", "password": "p@ss:w/rd"})
    )["ARN"]
    credentials.clear()
    settings = Settings(shop_database_url="mysql+pymysql://admin@db.example:3306/shop"
                                          "?ssl_ca=/var/task/deploy/certs/rds-global-bundle.pem",
                        shop_database_secret_arn=arn)
    url = make_url(tasks.database_url("shop", settings))
    assert (url.username, url.password, url.host, url.database) == \
        ("admin", "p@ss:w/rd", "db.example", "shop")
    assert url.query == {"ssl_ca": "/var/task/deploy/certs/rds-global-bundle.pem"}  # TLS kept
    plain = Settings(factory_database_url="sqlite:///x.db")
    assert tasks.database_url("factory", plain) == "sqlite:///x.db"
    credentials.clear()


def test_prepare_shop_writes_the_deployments_recipients_over_the_sample_managers(tmp_path,
                                                                                 monkeypatch):
    """The sample data's @example.com managers can never receive mail (RFC 2606): on AWS the
    Terraform variables' addresses replace them, on every run."""
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("SHOP_DATABASE_URL", shop)
    monkeypatch.delenv("SHOP_DATABASE_SECRET_ARN", raising=False)
    monkeypatch.setenv("AD_MANAGER_EMAIL", "ads@shop.example.org")
    monkeypatch.setenv("FACTORY_MANAGER_EMAILS", "2=plant2@shop.example.org")
    answer = tasks.prepare_shop({}, None)
    assert answer["recipients"] == {"advertisements": 3, "factories": 1}
    with get_engine(shop).connect() as connection:
        assert set(connection.execute(text("SELECT manager_email FROM advertisements"))
                   .scalars()) == {"ads@shop.example.org"}
        assert connection.execute(text("SELECT factory_id, manager_email FROM factories ORDER BY "
                                       "factory_id")).all() == [
            (1, "factory1@example.com"), (2, "plant2@shop.example.org")]
    assert tasks.upgrade_shop({}, None)["recipients"] == {"advertisements": 0, "factories": 0}
