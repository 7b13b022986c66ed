"""The metrics the system writes (CloudWatch embedded metric format on stdout: what CloudWatch
Logs extracts on Lambda) for what an operator watches: purchases, units sold and shortages per
item, replenishment lead time per factory, dead letters per queue. On SQLite and MySQL."""
from __future__ import annotations

import json
import uuid

import pytest

from consumers import dead_letter
from inventory_core.service_layer import shop_service
from shop_api import create_app


@pytest.fixture
def client(shop_url):
    app = create_app({"SHOP_DATABASE_URL": shop_url, "PUBLISH_AFTER_COMMIT": False,
                      "TESTING": True})
    return app.test_client()


def emf_records(capsys) -> list[dict]:
    """(metric name, value, unit, dimensions) of every EMF line written since the last call."""
    records = []
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                dimensions = {key: record[key] for dims in directive["Dimensions"] for key in dims}
                records.append((metric["Name"], record[metric["Name"]], metric["Unit"],
                                dimensions))
    return records


def purchase(client, item_name: str, quantity: int):
    return client.post("/purchases", json={"item_name": item_name, "quantity": quantity,
                                           "requester": "tester"})


def test_a_sale_counts_a_purchase_and_its_units_and_a_shortage_counts_once(client, capsys):
    capsys.readouterr()
    assert purchase(client, "Item3", 2).status_code == 201
    assert emf_records(capsys) == [("Purchases", 1, "Count", {"Item": "Item3"}),
                                   ("UnitsSold", 2, "Count", {"Item": "Item3"})]
    assert purchase(client, "Item2", 5).status_code == 409
    assert purchase(client, "Item9", 1).status_code == 404  # no such item: nothing counted
    assert emf_records(capsys) == [("Shortages", 1.0, "Count", {"Item": "Item2"})]


def test_a_fulfilled_replenishment_reports_its_lead_time_per_factory(client, capsys):
    from api_common.context import unit_of_work
    assert purchase(client, "Item2", 5).status_code == 409
    with client.application.app_context():
        uow = unit_of_work()
        [order] = shop_service.list_replenishments(uow)
        capsys.readouterr()
        event_id = str(uuid.uuid4())
        shop_service.receive_stock(uow, event_id, 2, order["quantity"],
                                   order["replenishment_order_id"])
        shop_service.receive_stock(uow, event_id, 2, order["quantity"],  # a duplicate
                                   order["replenishment_order_id"])
    [(name, seconds, unit, dimensions)] = emf_records(capsys)
    assert (name, unit, dimensions) == ("ReplenishmentLeadTime", "Seconds",
                                        {"Factory": "Factory2"})
    assert 0 <= seconds < 60


def test_a_dead_letter_is_counted_once_per_message_for_its_source_queue(settings, monkeypatch,
                                                                       capsys):
    from consumers import runtime
    monkeypatch.setenv("SHOP_DATABASE_URL", settings.shop_database_url)
    runtime.reset()
    record = {"messageId": "m-1", "body": "garbage",
              "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:p-order-queue-dlq",
              "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}}
    capsys.readouterr()
    dead_letter.handle_record(record)
    dead_letter.handle_record(record)  # SQS delivers it again: recorded again, not counted
    runtime.reset()
    assert emf_records(capsys) == [("DeadLettersRecorded", 1.0, "Count",
                                    {"Queue": "p-order-queue"})]
