"""gunicorn's own log lines (its access and error logs) in the stack's LOG_FORMAT, so that with
LOG_FORMAT=json every line of the shop and factory parts is one JSON object (the apps' own lines
are, through inventory_core.logs). `--logger-class local_stack.gunicorn_logging.Logger`; the
service name is gunicorn's `--name`. An access line carries the X-Correlation-Id the app answered
with, like every other line of that request."""
from __future__ import annotations

from gunicorn import glogging

from inventory_core import correlation, logs
from inventory_core.config import Settings


class Logger(glogging.Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        log_format = Settings.from_env().log_format
        if log_format == "json":  # text: gunicorn's own readable lines, as before
            formatter = logs.formatter(cfg.proc_name, log_format)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time) -> None:
        header = next((value for name, value in (resp.headers or [])
                       if name.lower() == correlation.HEADER.lower()), None)
        with correlation.bound(header if correlation.is_valid(header) else None):
            super().access(resp, req, environ, request_time)
