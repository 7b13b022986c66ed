"""Log lines: one JSON object each (LOG_FORMAT=json, the default on Lambda), or one readable line.

A JSON line holds `time`, `level`, `service`, `logger`, `message`, the flow's `correlation_id`
when one is known (inventory_core.correlation), Lambda's `aws_request_id` on Lambda, whatever a
call passed in `extra={...}`, and the `exception` with its traceback. That is what CloudWatch
Logs Insights filters on (`filter correlation_id = "..."`). docs/operability.md says why this is a
plain formatter and not Powertools' Logger (the same fields, without the package).

Entry points call `configure(service, log_format)` once per process: the WSGI modules, the
consumers on Lambda, the local stack's parts. Nothing is configured by importing a library
module, so tests and the `flask` CLI keep Python's defaults."""
from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

from inventory_core import correlation
from inventory_core.config import Settings

FORMATS = ("json", "text")
# Attributes every LogRecord has: anything else on a record came from `extra={...}`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "correlation_id", "aws_request_id"}


def _correlation_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "correlation_id", None) or correlation.current()


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = _correlation_id(record)
        if correlation_id:
            line["correlation_id"] = correlation_id
        request_id = getattr(record, "aws_request_id", None)  # Lambda runtime's log filter
        if request_id:
            line["aws_request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`INFO shop_api.items [correlation id]: message` (the id only when a flow is known)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s%(flow)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        correlation_id = _correlation_id(record)
        record.flow = f" [{correlation_id}]" if correlation_id else ""
        return super().format(record)


def formatter(service: str, log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT={log_format!r}: use one of {', '.join(FORMATS)}")
    return JsonFormatter(service) if log_format == "json" else TextFormatter()


def configure(service: str, log_format: str, on_lambda: bool = False,
              level: int = logging.INFO) -> None:
    """Every log line of this process in `log_format`. On Lambda the runtime's own handler (it
    adds the request id and writes to CloudWatch) gets the formatter; elsewhere one handler on
    stdout, replaced (never doubled) by a second call."""
    root = logging.getLogger()
    chosen = formatter(service, log_format)
    if on_lambda and root.handlers:
        for handler in root.handlers:
            handler.setFormatter(chosen)
    else:
        for handler in [h for h in root.handlers if getattr(h, "_inventory_core", False)]:
            root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stdout)
        handler._inventory_core = True  # type: ignore[attr-defined]
        handler.setFormatter(chosen)
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials" per client


def configure_from(service: str, settings: Settings, only_once: bool = False) -> None:
    """`configure` as the settings say (LOG_FORMAT; JSON by default on Lambda). `only_once`: not
    if this process configured its logging already (a consumer in the factory's Lambda keeps
    the factory's service name)."""
    if only_once and is_configured():
        return
    configure(service, settings.log_format, on_lambda=settings.on_lambda)


def is_configured() -> bool:
    return any(isinstance(h.formatter, JsonFormatter | TextFormatter)
               for h in logging.getLogger().handlers)
