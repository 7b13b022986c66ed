"""terraform/topology.json is the topology module's output; Terraform names every topic and queue
from it."""
from __future__ import annotations

import json
import re

from inventory_core import topology
from inventory_core.service_layer import dead_letters
from tests.infra.conftest import TERRAFORM_DIR, as_list, blocks

PLACEHOLDER = "PREFIX"
REGENERATE = "make generate"


def committed() -> dict:
    return json.loads((TERRAFORM_DIR / "topology.json").read_text())


def test_topology_json_is_what_the_topology_module_produces():
    expected = topology.as_dict(PLACEHOLDER)
    assert committed() == expected, (
        f"terraform/topology.json is stale; regenerate it with:\n  {REGENERATE}")
    text = (TERRAFORM_DIR / "topology.json").read_text()
    assert text == json.dumps(expected, indent=2) + "\n", f"reformat it with:\n  {REGENERATE}"


def hcl_physical(prefix: str, placeholder_name: str) -> str:
    """The rule main.tf applies: "<name_prefix>-<name without the placeholder prefix>"."""
    assert placeholder_name.startswith(PLACEHOLDER + "-")
    return f"{prefix}-{placeholder_name[len(PLACEHOLDER) + 1:]}"


def test_terraform_naming_rule_gives_the_modules_physical_names():
    data = committed()
    for prefix in ("replenish-dev", "replenish-prod", "acme-shop-7"):
        actual = topology.as_dict(prefix)
        for key, topic in data["topics"].items():
            assert hcl_physical(prefix, topic["name"]) == actual["topics"][key]["name"]
        for key, queue in data["queues"].items():
            assert hcl_physical(prefix, queue["name"]) == actual["queues"][key]["name"]
            assert hcl_physical(prefix, queue["dlq_name"]) == actual["queues"][key]["dlq_name"]


def test_main_tf_derives_names_from_topology_json(terraform_hcl):
    locals_ = {k: v for entry in terraform_hcl["main.tf"]["locals"] for k, v in entry.items()}
    assert 'jsondecode(file("${path.module}/topology.json"))' in locals_["topology"]
    physical = "${local.name_prefix}-${trimprefix(%s, local.topology_placeholder)}"
    assert physical % "topic.name" in locals_["topics"]
    assert physical % "queue.name" in locals_["queues"]
    assert physical % "queue.dlq_name" in locals_["queues"]
    for attribute in ("max_receive_count", "visibility_timeout", "batch_size", "batch_window",
                      "topics"):
        assert f"queue.{attribute}" in locals_["queues"], attribute
    assert "local.topology.dlq_retention_seconds" in locals_["dlq_retention_seconds"]
    assert "local.topology.queue_retention_seconds" in locals_["queue_retention_seconds"]


def test_every_topology_topic_and_queue_is_created_from_the_topology(terraform_hcl):
    """Topics and queues are for_each over the topology maps, so each one exists exactly once."""
    resources = {(t, n): body for _, t, n, body in blocks(terraform_hcl, "resource")}
    assert resources[("aws_sns_topic", "event")]["for_each"] == "${local.topics}"
    assert resources[("aws_sqs_queue", "queue")]["for_each"] == "${local.queues}"
    assert resources[("aws_sqs_queue", "dlq")]["for_each"] == "${local.queues}"
    subscriptions = resources[("aws_sns_topic_subscription", "queue")]
    assert subscriptions["for_each"] == "${local.subscriptions}"
    dlq_alarms = resources[("aws_cloudwatch_metric_alarm", "dlq_not_empty")]
    assert dlq_alarms["for_each"] == "${local.queues}"
    assert resources[("aws_sqs_queue", "queue")]["name"] == "${each.value.name}"
    assert resources[("aws_sqs_queue", "dlq")]["name"] == "${each.value.dlq_name}"
    assert resources[("aws_sns_topic", "event")]["name"] == "${each.value.name}"


def iam_services(terraform_hcl) -> dict:
    locals_ = {k: v for entry in terraform_hcl["iam.tf"]["locals"] for k, v in entry.items()}
    return locals_["services"]


def test_iam_service_map_names_only_topology_keys_and_covers_every_queue(terraform_hcl):
    topics = {t.key for t in topology.TOPOLOGY.topics}
    queues = {q.key for q in topology.TOPOLOGY.queues}
    services = iam_services(terraform_hcl)
    assert set(services) == {"shop", "factory", "consumers"}
    consumed = []
    for name, service in services.items():
        assert set(as_list(service["publishes"])) <= topics, name
        consumed += as_list(service["consumes"])
        sends = service["sends_to"]
        if isinstance(sends, list):
            assert set(sends) <= queues, name
        else:
            assert re.fullmatch(r"\$\{keys\(local\.queues\)\}", sends), sends
    assert sorted(consumed) == sorted(queues), (
        "every topology queue is consumed by exactly one service")


def test_iam_services_match_the_design(terraform_hcl):
    services = iam_services(terraform_hcl)
    assert services["shop"]["publishes"] == ["replenishment_requested", "stock_events",
                                             "backorder_events"]
    # the shop consumes nothing; it sends to source queues only to redrive dead letters, and
    # never to the factory's own production queue (dead_letters.NOT_REDRIVEN_BY_SHOP)
    assert services["shop"]["consumes"] == []
    queues = {q.key for q in topology.TOPOLOGY.queues}
    assert set(services["shop"]["sends_to"]) == queues - set(dead_letters.NOT_REDRIVEN_BY_SHOP)
    assert "production" in dead_letters.NOT_REDRIVEN_BY_SHOP
    assert services["factory"]["publishes"] == ["production_completed"]
    assert services["factory"]["consumes"] == ["production"] == services["factory"]["sends_to"]
    # the delivery consumer's restock fills backorders and reorders for those still waiting
    assert services["consumers"]["publishes"] == ["replenishment_requested", "stock_events",
                                                  "backorder_events"]
    assert services["consumers"]["consumes"] == ["order", "delivery", "notification"]
    assert services["consumers"]["sends_to"] == []
    assert {name: s["database"] for name, s in services.items()} == {
        "shop": "shop", "factory": "factory", "consumers": "shop"}
