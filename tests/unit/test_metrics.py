"""The embedded metric format records CloudWatch extracts metrics from."""
import json

import pytest

from inventory_core.adapters import metrics


def test_a_record_names_its_metric_unit_namespace_and_dimensions(monkeypatch):
    monkeypatch.setenv("METRICS_NAMESPACE", "Staging/Replenishment")
    record = metrics.record("ReplenishmentLeadTime", 12.5, unit="Seconds", factory=1)

    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive == {"Namespace": "Staging/Replenishment", "Dimensions": [["Factory"]],
                         "Metrics": [{"Name": "ReplenishmentLeadTime", "Unit": "Seconds"}]}
    assert record["Factory"] == "1" and record["ReplenishmentLeadTime"] == 12.5
    assert isinstance(record["_aws"]["Timestamp"], int)


def test_the_namespace_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    assert metrics.record("Purchases")["_aws"]["CloudWatchMetrics"][0]["Namespace"] == \
        "Replenishment"


def test_emit_writes_one_json_line(capsys):
    metrics.emit("Purchases", item="Item1")
    metrics.emit("Shortages", item="Item2")
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["Item"] for line in lines] == ["Item1", "Item2"]


def test_a_unit_cloudwatch_does_not_know_is_refused():
    with pytest.raises(ValueError, match="not a CloudWatch unit"):
        metrics.record("Purchases", unit="Apples")


@pytest.mark.parametrize("namespace", ["Replenishment", "Odd %s/100% \"quoted\""])
def test_a_line_is_the_record_as_json(monkeypatch, namespace):
    """The line is built from a cached template: it must hold what the record holds, for every
    shape, with values (and names) that look like format directives or need escaping."""
    monkeypatch.setenv("METRICS_NAMESPACE", namespace)
    for args, dims in [(("Purchases",), {"item": "Item1"}),
                       (("Lead%sTime", 12.5, "Seconds"), {"factory": 1, "item": 'a "%d" \u00e9'}),
                       (("NoDimensions", 3), {}),
                       (("Purchases",), {"item": "Item2"})]:  # the cached template, new value
        parsed, expected = json.loads(metrics.line(*args, **dims)), metrics.record(*args, **dims)
        assert abs(parsed["_aws"].pop("Timestamp") - expected["_aws"].pop("Timestamp")) < 1000
        assert parsed == expected


def test_several_values_share_one_line_and_each_is_a_metric(monkeypatch):
    """A sale's Purchases and UnitsSold: one log line (one CloudWatch Logs event to pay for),
    from which CloudWatch extracts both, with their dimensions."""
    monkeypatch.setenv("METRICS_NAMESPACE", "Replenishment")
    for units in (3, 5):  # the second from the cached template
        parsed = json.loads(metrics.values_line({"Purchases": 1, "UnitsSold": units},
                                                item="Item1"))
        assert parsed["_aws"]["CloudWatchMetrics"] == [{
            "Namespace": "Replenishment", "Dimensions": [["Item"]],
            "Metrics": [{"Name": "Purchases", "Unit": "Count"},
                        {"Name": "UnitsSold", "Unit": "Count"}]}]
        assert (parsed["Item"], parsed["Purchases"], parsed["UnitsSold"]) == ("Item1", 1, units)


def test_a_broken_stdout_loses_the_metrics_not_the_sale(monkeypatch, caplog):
    class Broken:
        def write(self, text):
            raise OSError("broken pipe")

    monkeypatch.setattr("sys.stdout", Broken())
    metrics.emit_values({"Purchases": 1, "UnitsSold": 2}, item="Item1")  # does not raise
    assert "Purchases, UnitsSold not written: broken pipe" in caplog.text
