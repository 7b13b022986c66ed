"""inventory_core.logs and inventory_core.correlation: what one log line holds, in each format,
and which correlation ids are taken as they come."""
from __future__ import annotations

import json
import logging
import sys

import pytest

from inventory_core import correlation, logs
from inventory_core.config import Settings


def formatted(formatter: logging.Formatter, message: str = "sold %d", *args,
              exc_info=None, **extra) -> str:
    record = logging.LogRecord("inventory_core.x", logging.INFO, __file__, 1, message,
                               args or (3,), exc_info)
    record.__dict__.update(extra)
    return formatter.format(record)


def test_a_json_line_holds_the_fields_and_the_flows_correlation_id():
    formatter = logs.formatter("shop", "json")
    assert "correlation_id" not in json.loads(formatted(formatter))
    with correlation.bound("checkout-42"):
        line = json.loads(formatted(formatter, item_id=7, aws_request_id="req-1"))
    assert list(line)[:5] == ["time", "level", "service", "logger", "message"]
    assert line["time"].endswith("+00:00") and line["level"] == "INFO"
    assert (line["service"], line["logger"], line["message"]) == ("shop", "inventory_core.x",
                                                                  "sold 3")
    assert line["correlation_id"] == "checkout-42"
    assert line["aws_request_id"] == "req-1" and line["item_id"] == 7  # extra={...}


def test_an_exception_stays_inside_its_one_json_line():
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        text = formatted(logs.formatter("consumers", "json"), exc_info=sys.exc_info())
    assert "\n" not in text
    assert json.loads(text)["exception"].endswith("ValueError: bad\nthing")


def test_the_text_line_names_the_flow_only_when_one_is_known():
    formatter = logs.formatter("shop", "text")
    assert formatted(formatter) == "INFO inventory_core.x: sold 3"
    with correlation.bound("abc-1"):
        assert formatted(formatter) == "INFO inventory_core.x [abc-1]: sold 3"


def test_log_format_is_json_on_lambda_unless_set_and_refused_when_unknown():
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "shop"}).log_format == "json"
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "shop",
                              "LOG_FORMAT": "text"}).log_format == "text"
    assert Settings.from_env({"LOG_FORMAT": " JSON "}).log_format == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT='xml': use one of json, text"):
        logs.formatter("shop", "xml")


def test_on_lambda_the_runtimes_handler_gets_the_formatter_and_no_second_one_is_added():
    root = logging.getLogger()
    runtime_handler = logging.StreamHandler()  # what Lambda's bootstrap installs on root
    saved = root.handlers[:], root.level
    root.handlers[:] = [runtime_handler]
    try:
        logs.configure("consumers", "json", on_lambda=True)
        assert root.handlers == [runtime_handler]
        assert isinstance(runtime_handler.formatter, logs.JsonFormatter)
        logs.configure_from("factory", Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f"}),
                            only_once=True)  # configured already: the service name stays
        assert runtime_handler.formatter.service == "consumers"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_off_lambda_configuring_twice_leaves_one_handler_of_ours():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("relay", "text")
        logs.configure("relay", "json")
        ours = [h for h in root.handlers if getattr(h, "_inventory_core", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.parametrize("offered", [
    "0b7c6a52-5d8e-4f7e-9a51-3c1f1e2d9b10", "checkout-42:retry.1", "A" * 36, "x"])
def test_a_valid_correlation_id_is_taken_as_it_comes(offered):
    assert correlation.accept(offered) == offered


@pytest.mark.parametrize("offered", [
    None, "", "A" * 37, "two words", "line\nbreak", "trailing\n", 'quote"', "ключ", 42])
def test_anything_else_is_replaced_by_a_new_id(offered):
    made = correlation.accept(offered)
    assert made != offered and correlation.is_valid(made) and len(made) == 36
