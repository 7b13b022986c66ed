"""Run `python -m local_stack` as a child process and wait for its ready line.

Used by `python -m local_stack.demo` when no stack answers, and by the e2e tests.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from contextlib import nullcontext, suppress
from pathlib import Path

import psutil

from local_stack.stack_config import ROOT
from local_stack.supervisor import BANNER_RULE, EXIT_WITH_PARENT, READY_TEXT


class StackFailed(RuntimeError):
    """The stack exited or did not get ready; the message ends with its last output lines."""


class StackProcess:
    def __init__(self, env: dict[str, str], log_path: Path | None = None, echo=None,
                 argv: list[str] | None = None):
        self.env = env
        self.argv = argv or [sys.executable, "-m", "local_stack"]  # another only in tests
        self.log_path = log_path
        self.echo = echo  # a callable given each output line, or None
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self.started_at = 0.0
        self.ready_after: float | None = None

    def start(self) -> StackProcess:
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env={**self.env, EXIT_WITH_PARENT: "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _running(self) -> subprocess.Popen:
        if self.process is None:
            raise StackFailed("the local stack was not started")
        return self.process

    def _read(self) -> None:
        output = self._running().stdout
        if output is None:  # never: start() asks for a pipe
            return
        with (open(self.log_path, "a", encoding="utf-8") if self.log_path
              else nullcontext()) as log:
            for raw in iter(output.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                if log:
                    log.write(line + "\n")
                    log.flush()
                if self.echo:
                    self.echo(line)
                # Ready is timed at the ready line but signalled at the end of its banner, so that
                # a caller reading `lines` then sees the whole banner (URLs, admin token).
                if READY_TEXT in line and self.ready_after is None:
                    self.ready_after = time.monotonic() - self.started_at
                elif self.ready_after is not None and line.endswith(BANNER_RULE):
                    self.ready.set()

    def tail(self, count: int = 25) -> str:
        return "\n".join(self.lines[-count:])

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds from start to the ready line; StackFailed if it exits or takes too long."""
        process = self._running()
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if process.poll() is not None:
                if self._reader:
                    self._reader.join(2)
                raise StackFailed(f"the local stack exited with status {process.returncode} "
                                  f"before it was ready:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise StackFailed(f"the local stack was not ready after {timeout:.0f}s:\n"
                                  f"{self.tail()}")
        if self.ready_after is None:  # never: the ready line sets it before `ready` is set
            raise StackFailed("ready without a ready line")
        return self.ready_after

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a user's Ctrl-C would; the exit status. If the supervisor does not stop
        within `timeout`, it and every process below it are killed: its parts run in sessions of
        their own, so killing the supervisor alone would leave them running on their ports."""
        process = self._running()
        if process.poll() is None:
            # Taken before the signal: once the supervisor is gone its parts are re-parented and
            # can no longer be found below it.
            tree = processes_below(process.pid)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                tree += processes_below(process.pid)  # parts it restarted since
                process.kill()
                process.wait(5)
                kill_all(tree)
        if self._reader:
            self._reader.join(5)
        return process.returncode


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, whatever session or group it moved to."""
    return {child.pid for child in processes_below(pid)}


def processes_below(pid: int) -> list[psutil.Process]:
    """The processes below `pid`, each remembering its start time: what `kill_all` takes, so that
    it never signals an unrelated process that was given a recycled pid (psutil checks)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(pid: int) -> bool:
    """True for a running process (a zombie awaiting its parent counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_all(processes: list[psutil.Process], timeout: float = 5.0) -> None:
    """SIGKILL each of `processes` still running, and wait (up to `timeout`) until none is."""
    for process in processes:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            process.kill()
    psutil.wait_procs(processes, timeout=timeout)
