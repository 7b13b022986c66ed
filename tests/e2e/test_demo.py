"""`python -m local_stack.demo` (`make demo`): green against a running stack, and on its own."""
from __future__ import annotations

import subprocess
import sys

import pytest

from local_stack.stack_config import ROOT
from local_stack.supervisor import port_problem
from tests.e2e.conftest import stack_environment

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(300)]


def run_demo(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_stack.demo"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=100)


def assert_story_told(demo: subprocess.CompletedProcess) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    for number in range(1, 8):
        assert f"Step {number}:" in out
    assert "구매 실패! 남은 재고: 2, 생산요청 진행중" in out
    # The buyer's name is masked for a caller who is not an operator (issue 15).
    assert "production order #1" in out and "log #2: Factory2 Item2 × 8 for d***" in out
    assert "restocked: Item2 has 10" in out
    assert "구매 완료! 남은 재고: 5" in out
    assert "replenishment #1: fulfilled (received 8)" in out
    assert "The seed's system test passed" in out


def test_demo_against_a_running_stack(start_stack):
    stack = start_stack(PRODUCTION_SECONDS="1")
    env = dict(stack.env, SHOP_URL=stack.shop_url, FACTORY_URL=stack.factory_url)
    demo = run_demo(env)
    assert "Using the running stack" in demo.stdout
    assert_story_told(demo)


def test_demo_starts_and_stops_a_stack_of_its_own(tmp_path):
    env = stack_environment(tmp_path, PRODUCTION_SECONDS="1")
    demo = run_demo(env)
    assert "No stack answers" in demo.stdout and "Stopped (exit status 0)" in demo.stdout
    assert_story_told(demo)
    ports = [int(env[name]) for name in ("SHOP_PORT", "FACTORY_PORT", "AWS_PORT")]
    assert not [port for port in ports if port_problem("127.0.0.1", port)]
