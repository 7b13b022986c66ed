"""The alarms of terraform/metric_alarms.tf watch metrics the code really writes: each metric name
and dimension is one a `metrics.emit(...)` or `metrics.emit_values(...)` call in the source uses
(read with `ast`), in the namespace the functions are given (METRICS_NAMESPACE in
zappa_environment)."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.infra.conftest import REPO, blocks

SOURCES = ("inventory_core", "consumers", "shop_api", "factory_api", "api_common")


def emitted_metrics() -> dict[str, set[str]]:
    """{metric name: dimension names as written in the record} of every metrics.emit call (its
    first argument) and metrics.emit_values call (the keys of its dict)."""
    found: dict[str, set[str]] = {}
    for package in SOURCES:
        for path in Path(REPO, package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("emit", "emit_values")
                        and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "metrics" and node.args):
                    continue
                first = node.args[0]
                names = ([first.value] if isinstance(first, ast.Constant) else
                         [k.value for k in first.keys if isinstance(k, ast.Constant)]
                         if isinstance(first, ast.Dict) else [])
                dimensions = {k.arg[:1].upper() + k.arg[1:] for k in node.keywords
                              if k.arg and k.arg != "unit"}
                for name in names:
                    found.setdefault(name, set()).update(dimensions)
    return found


def metric_alarms(terraform_hcl) -> list[dict]:
    return [body for _, _, _, body in blocks(terraform_hcl, "resource",
                                             "aws_cloudwatch_metric_alarm")
            # a metric-math alarm (the DLQ alarms: SQS metrics) has its namespaces in its queries
            if body.get("namespace", "AWS/SQS") != "AWS/SQS"]


def test_the_application_writes_the_metrics_the_issue_names():
    assert {"Purchases": {"Item"}, "UnitsSold": {"Item"}, "Shortages": {"Item"},
            "ReplenishmentLeadTime": {"Factory"},
            "DeadLettersRecorded": {"Queue"}}.items() <= emitted_metrics().items()


def watched(alarm: dict, terraform_hcl) -> list[str]:
    """The metric names an alarm block watches: its own, or each of its for_each map's (the
    replenishment alarms of terraform/alarms_replenishment.tf)."""
    if alarm["metric_name"] != "${each.value.metric}":
        return [alarm["metric_name"]]
    locals_ = {k: v for document in terraform_hcl.values()
               for entry in document.get("locals", []) for k, v in entry.items()}
    assert alarm["for_each"] == "${local.replenishment_alarms}"
    return [spec["metric"] for spec in locals_["replenishment_alarms"].values()]


def test_every_metric_alarm_watches_a_metric_the_code_writes(terraform_hcl):
    emitted = emitted_metrics()
    alarms = metric_alarms(terraform_hcl)
    names = {name for alarm in alarms for name in watched(alarm, terraform_hcl)}
    assert names >= {"DeadLettersRecorded", "ReplenishmentLeadTime", "ReplenishmentsFailed",
                     "ReplenishmentsStalled", "DeliveryAnomalies"}
    for alarm in alarms:
        assert alarm["namespace"] == "${local.metrics_namespace}", alarm
        for name in watched(alarm, terraform_hcl):
            assert set(alarm.get("dimensions", {})) == emitted[name], (name, alarm)
        assert alarm["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"], alarm
        # no data: nothing happened ("ignore": a gauge keeps its state between sweeps, outbox)
        assert alarm["treat_missing_data"] in ("notBreaching", "ignore"), alarm


def test_the_functions_write_into_the_alarmed_namespace(terraform_hcl):
    (common,) = [local["common_environment"] for _, document in terraform_hcl.items()
                 for local in document.get("locals", []) if "common_environment" in local]
    assert common["METRICS_NAMESPACE"] == "${local.metrics_namespace}"
