"""Zappa's real `zappa.handler.LambdaHandler`, in this process, for each kind of stage: the
settings module is the one `zappa save-python-settings-file <stage>` writes into the package; only
the database URLs (SQLite instead of RDS) and AWS (moto instead of the account) are swapped."""
from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import uuid

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import func, select, update

from inventory_core.adapters import outbox
from inventory_core.adapters.db import session_factory
from inventory_core.adapters.messaging import Messaging, ensure_topology
from inventory_core.adapters.migrate import prepare
from inventory_core.adapters.models.factory import FactoryOutbox
from inventory_core.adapters.models.shop import ShopOutbox
from inventory_core.config import Settings
from inventory_core.domain.events import new_event
from inventory_core.service_layer import replenishments, shop_service
from inventory_core.service_layer.dead_letters import list_dead_letters
from inventory_core.service_layer.unit_of_work import UnitOfWork
from inventory_core.topology import TOPOLOGY

from .conftest import (
    FakeContext,
    api_gateway_event,
    save_python_settings,
    scheduled_event,
    sqs_event,
)

RELOADED = ("shop_api.wsgi", "factory_api.wsgi")
WRITER_ROLE_ARN = "arn:aws:iam::123456789012:role/replenish-dev-consumers"


@pytest.fixture
def lambda_stage(tmp_path):
    """`invoke(stage)` -> (handler function, settings module, Settings): a fresh LambdaHandler."""
    from zappa.handler import LambdaHandler

    saved_environ, saved_path = dict(os.environ), list(sys.path)
    saved_level = logging.getLogger().level  # LambdaHandler sets the root logger to LOG_LEVEL
    mock = mock_aws()
    mock.start()

    def load(stage: str):
        directory = tmp_path / stage
        directory.mkdir()
        save_python_settings(stage, directory)
        sys.modules.pop("zappa_settings", None)
        sys.path.insert(0, str(directory))
        importlib.invalidate_caches()
        module = importlib.import_module("zappa_settings")
        assert stage == module.API_STAGE and module.DEBUG is False and module.LOG_LEVEL == "INFO"

        env = module.ENVIRONMENT_VARIABLES
        settings = Settings(shop_database_url=f"sqlite:///{directory / 'shop.db'}",
                            factory_database_url=f"sqlite:///{directory / 'factory.db'}",
                            name_prefix=env["NAME_PREFIX"], aws_account_id=env["AWS_ACCOUNT_ID"],
                            aws_region=env["AWS_REGION"])
        for name in list(env):
            if name.endswith("_DATABASE_SECRET_ARN"):
                del env[name]  # no Secrets Manager in front of SQLite
        # Terraform gives the factory stage its writer (the consumers' role); stand in for it.
        env.setdefault("FACTORY_WRITER_ROLE_ARN", WRITER_ROLE_ARN)
        env["SHOP_DATABASE_URL"] = settings.shop_database_url
        env["FACTORY_DATABASE_URL"] = settings.factory_database_url
        prepare("shop", settings.shop_database_url)
        prepare("factory", settings.factory_database_url)
        ensure_topology(settings)

        # What a new Lambda container starts with: no handler, no app, no cached settings.
        LambdaHandler._LambdaHandler__instance = None
        for name in RELOADED:
            sys.modules.pop(name, None)
        from consumers import runtime
        runtime.reset()
        return LambdaHandler.lambda_handler, module, settings

    yield load
    mock.stop()
    LambdaHandler._LambdaHandler__instance = None
    sys.modules.pop("zappa_settings", None)
    for name in RELOADED:
        sys.modules.pop(name, None)
    sys.path[:] = saved_path
    logging.getLogger().setLevel(saved_level)
    os.environ.clear()
    os.environ.update(saved_environ)
    from consumers import runtime
    runtime.reset()


def _body(response: dict):
    return json.loads(response["body"])


def _rule(module, function: str) -> str:
    from zappa.core import Zappa
    zappa = Zappa(boto_session=boto3.Session(region_name="ap-northeast-2"), load_credentials=False)
    lambda_name = f"{module.PROJECT_NAME}-{module.API_STAGE}".replace("_", "-")
    return zappa.get_scheduled_event_name({"function": function}, function, lambda_name)


def _queue_arn(module, queue_name: str) -> str:
    return next(arn for arn in module.AWS_EVENT_MAPPING if arn.endswith(f":{queue_name}"))


def _dlq_bodies(settings: Settings, queue_key: str) -> list[str]:
    messaging = Messaging(settings)
    url = messaging.queue_url_of(queue_key, dead_letter=True)
    received = boto3.client("sqs", region_name=settings.aws_region).receive_message(
        QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in received.get("Messages", [])]


def _pending(url: str, model) -> int:
    with session_factory(url)() as session:
        return outbox.pending_count(session, model)


def _unpublish_last(url: str, model) -> None:
    """The newest outbox row back to unpublished and unclaimed."""
    with session_factory(url).begin() as session:
        last = session.scalar(select(func.max(model.outbox_id)))
        session.execute(update(model).where(model.outbox_id == last)
                        .values(published_at=None, claimed_until=None))


def test_shop_stage_answers_the_seeds_get_and_post_and_runs_its_outbox_sweep(lambda_stage):
    handler, module, settings = lambda_stage("shop_dev")
    assert module.APP_MODULE == "shop_api.wsgi" and module.APP_FUNCTION == "app"

    listed = handler(api_gateway_event("GET", "/item"), FakeContext())
    assert listed["statusCode"] == 200
    assert [(i["name"], i["quantity"]) for i in _body(listed)] == \
        [("Item1", 1), ("Item2", 2), ("Item3", 3)]

    bought = handler(api_gateway_event("POST", "/item", {"item_name": "Item2", "quantity": 1,
                                                         "requester": "zappa"}), FakeContext())
    assert (bought["statusCode"], _body(bought)) == (200, {"message": "구매 완료! 남은 재고: 1"})

    short = handler(api_gateway_event("POST", "/item", {"item_name": "Item2", "quantity": 5,
                                                        "requester": "zappa"}), FakeContext())
    assert (short["statusCode"], _body(short)) == \
        (200, {"message": "구매 실패! 남은 재고: 1, 생산요청 진행중"})

    # The shortage's replenishment.requested went out after commit; leave it unpublished, as a
    # broker outage would, so the scheduled sweep has something to send.
    assert _pending(settings.shop_database_url, ShopOutbox) == 0
    _unpublish_last(settings.shop_database_url, ShopOutbox)
    assert _pending(settings.shop_database_url, ShopOutbox) == 1
    swept = handler(scheduled_event(_rule(module, "consumers.outbox_sweep.shop_handler")),
                    FakeContext())
    assert swept["published"] == 1 and swept["failed"] == 0
    assert _pending(settings.shop_database_url, ShopOutbox) == 0


def test_factory_stage_serves_its_api_and_dead_letters_what_can_never_succeed(lambda_stage):
    handler, module, settings = lambda_stage("factory_dev")
    logs = handler(api_gateway_event("GET", "/log"), FakeContext())
    assert logs["statusCode"] == 200 and _body(logs)[0]["requester"] == "j***"  # public: masked

    # Writes: API Gateway's IAM authorization verified the caller; only the writer role's
    # session gets through Zappa's handler to the factory (requestContext.identity.userArn).
    log = {"factory_id": 2, "factory_name": "Factory2", "item_id": 2, "item_name": "Item2",
           "quantity": 3, "requester": "zappa"}
    role_name = WRITER_ROLE_ARN.rpartition("/")[2]
    for caller in (None, "arn:aws:sts::123456789012:assumed-role/replenish-dev-shop/s"):
        refused = handler(api_gateway_event("POST", "/log", log, caller_arn=caller), FakeContext())
        assert refused["statusCode"] == 403, caller
    created = handler(api_gateway_event("POST", "/log", log, caller_arn=(
        f"arn:aws:sts::123456789012:assumed-role/{role_name}/stock-replenishment-consumers-dev")),
        FakeContext())
    assert created["statusCode"] == 201

    production_queue = _queue_arn(module, f"{settings.name_prefix}-production-queue")
    unknown_order = new_event("production.due", {"production_order_id": 424242}).to_json()
    answer = handler(sqs_event(production_queue, [unknown_order, "not json"]), FakeContext())
    assert answer == {"batchItemFailures": []}  # both are permanent: dead-lettered at once
    assert sorted(_dlq_bodies(settings, "production")) == sorted([unknown_order, "not json"])

    # A production.completed the factory committed but never published (it died after commit).
    completed = new_event("production.completed", {
        "production_order_id": 7, "replenishment_order_id": 9, "factory_id": 2, "item_id": 2,
        "item_name": "Item2", "quantity": 3, "completed_at": "2026-01-01T00:00:00+00:00"})
    with session_factory(settings.factory_database_url).begin() as session:
        outbox.add(session, FactoryOutbox, completed, TOPOLOGY.event_types[completed.type])
    assert _pending(settings.factory_database_url, FactoryOutbox) == 1
    swept = handler(scheduled_event(_rule(module, "consumers.outbox_sweep.factory_handler")),
                    FakeContext())
    assert swept["published"] == 1 and swept["failed"] == 0
    assert _pending(settings.factory_database_url, FactoryOutbox) == 0


def test_consumers_stage_reports_only_the_failed_record_of_a_batch(lambda_stage):
    handler, module, settings = lambda_stage("consumers_dev")
    assert not hasattr(module, "APP_MODULE")  # no API Gateway, no WSGI app

    # Item1 sells out: a replenishment order of 10 opens (only its completion moves stock).
    shop = UnitOfWork(session_factory(settings.shop_database_url), ShopOutbox)
    order_id = shop_service.purchase(shop, "Item1", 1, "x").replenishment["replenishment_order_id"]

    def completed(item_id: int) -> str:
        return new_event("production.completed", {
            "production_order_id": 7, "replenishment_order_id": order_id, "factory_id": 1,
            "item_id": item_id, "item_name": "Item1", "quantity": 10,
            "completed_at": "2026-01-01T00:00:00+00:00"}).to_json()

    delivery_queue = _queue_arn(module, f"{settings.name_prefix}-delivery-queue")
    event = sqs_event(delivery_queue, [completed(1), completed(999_999)])
    answer = handler(event, FakeContext())
    # The unknown item may be fixed in the catalogue: a transient failure, redelivered by SQS.
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    listed_stock = handler(event | {"Records": event["Records"][:1]}, FakeContext())
    assert listed_stock == {"batchItemFailures": []}  # the duplicate changes nothing

    from sqlalchemy import text

    from inventory_core.adapters.db import get_engine
    with get_engine(settings.shop_database_url).connect() as connection:
        quantity = text("SELECT quantity FROM items WHERE item_id = 1")
        assert connection.execute(quantity).scalar() == 10
    assert replenishments.recent_anomalies(shop) == []  # the duplicate is no delivery anomaly

    poison = f"poison {uuid.uuid4()}"
    dead = sqs_event(_queue_arn(module, f"{settings.name_prefix}-order-queue-dlq"), [poison])
    assert handler(dead, FakeContext()) == {"batchItemFailures": []}
    [letter] = list_dead_letters(shop)
    assert letter["body"] == poison
    assert letter["dlq"].endswith("-order-queue-dlq")
    assert letter["source_queue"].endswith("-order-queue")
