"""The supervisor's process handling with stand-in parts: restarts with backoff, giving up after
quick crashes, and a stop that leaves no process behind even when one ignores SIGTERM."""
from __future__ import annotations

import io
import re
import sys
import time

import pytest

from local_stack import stack_config, supervisor
from local_stack.launcher import StackProcess, alive, descendants
from local_stack.supervisor import Console, Part, Supervisor
from tests.e2e.conftest import stack_environment

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(60)]


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(supervisor, "BACKOFF_SECONDS", 0.05)
    monkeypatch.setattr(supervisor, "STOP_GRACE_SECONDS", 1.0)


def make_supervisor(tmp_path, parts: list[Part]) -> tuple[Supervisor, io.StringIO]:
    config = stack_config.load(stack_environment(tmp_path))
    output = io.StringIO()
    sup = Supervisor(config, Console(output))
    sup.parts = {part.name: part for part in parts}
    return sup, output


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_part_that_keeps_crashing_is_restarted_then_given_up(tmp_path, quick):
    crashing = Part("relay", python("print('cannot start', flush=True); raise SystemExit(3)"),
                    is_ready=lambda part: False)
    steady = Part("shop", python("import time; time.sleep(60)"), is_ready=lambda part: part.running)
    sup, output = make_supervisor(tmp_path, [crashing, steady])
    for part in (crashing, steady):
        sup.start(part)
    steady_pid = steady.process.pid
    deadline = time.monotonic() + 20
    while not sup.stopping.is_set() and time.monotonic() < deadline:
        sup.tick()
        time.sleep(0.02)
    sup.shutdown()
    text = output.getvalue()
    assert len(re.findall(r"^\[relay\] +cannot start", text, re.M)) == supervisor.MAX_QUICK_CRASHES
    restarts = supervisor.MAX_QUICK_CRASHES - 1
    assert text.count("relay stopped unexpectedly (exit status 3") == restarts
    assert "restarting it in 0.05s" in text and "restarting it in 0.4s" in text  # backoff doubles
    assert f"relay crashed {supervisor.MAX_QUICK_CRASHES} times in a row" in text
    assert "giving up" in text
    assert sup.failure and not alive(steady_pid)
    assert "stopped everything" in text


def test_stop_kills_whole_groups_even_a_part_that_ignores_sigterm(tmp_path, quick):
    stubborn = Part("consumers", python(
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('ready', flush=True); time.sleep(60)"), is_ready=lambda part: False,
        ready_marker="ready")
    sup, output = make_supervisor(tmp_path, [stubborn])
    sup.start(stubborn)
    assert stubborn.marker_seen.wait(10)
    tree = {stubborn.process.pid} | descendants(stubborn.process.pid)
    assert len(tree) == 2
    started = time.monotonic()
    sup.shutdown()
    assert time.monotonic() - started < 8  # the 1 s grace, not the 60 s the part would sleep
    assert "consumers did not stop within 1s: killing it" in output.getvalue()
    assert not [pid for pid in tree if alive(pid)]


def test_stack_process_stop_kills_what_a_hung_supervisor_leaves_behind(tmp_path):
    """A supervisor that ignores SIGTERM is killed after the timeout, and so are its parts, though
    they run in sessions of their own (killing the supervisor alone would orphan them)."""
    hung = StackProcess(stack_environment(tmp_path), argv=python(
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
        "start_new_session=True); "
        f"print({supervisor.READY_TEXT!r}); print({supervisor.BANNER_RULE!r}, flush=True); "
        "time.sleep(60)"))
    hung.start().wait_ready(10)
    tree = {hung.process.pid} | descendants(hung.process.pid)
    assert len(tree) == 2
    started = time.monotonic()
    status = hung.stop(timeout=0.5)
    assert status == -9 and time.monotonic() - started < 5
    assert not [pid for pid in tree if alive(pid)]
