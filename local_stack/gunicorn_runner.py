"""A WSGI app behind a real gunicorn in a subprocess, on a free port: for the benchmarks and the
reliability tests (dev tooling: `local_stack` is never part of a Lambda package).

    server = Gunicorn("shop_api.wsgi:app", {"SHOP_DATABASE_URL": url}).start(log_path)
    ...  # requests to f"{server.url}/..."
    server.stop()
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from local_stack.stack_config import ROOT

START_TIMEOUT_SECONDS = 30.0
HEALTH_CHECK_PAUSE_SECONDS = 0.2
STOP_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn APP` on a free port in a subprocess with the given environment (added to ours)."""

    def __init__(self, app: str, env: dict, workers: int = 3, threads: int = 4):
        self.app, self.workers, self.threads = app, workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen | None = None

    def start(self, log_path: Path, timeout: float = START_TIMEOUT_SECONDS) -> Gunicorn:
        """Start it and wait until `/health` answers 200; RuntimeError (with the end of its log)
        if it exits first or does not answer within `timeout`."""
        with open(log_path, "wb") as log:  # gunicorn writes to its own copy of the descriptor
            process = self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads",
                 str(self.threads), "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "10",
                 "--keep-alive", "30", "--log-level", "warning", self.app],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}: "
                                   f"{Path(log_path).read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{self.url}/health", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            time.sleep(HEALTH_CHECK_PAUSE_SECONDS)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s; see {log_path}")

    def stop(self) -> None:
        """SIGTERM (workers finish their requests), SIGKILL if it takes too long. Idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
