"""The whole local stack as a subprocess (`python -m local_stack`) on ephemeral ports."""
from __future__ import annotations

import os

import pytest

from local_stack.launcher import StackProcess, alive, descendants
from tests.conftest import free_port

READY_TIMEOUT = 120  # usually ~5 s; generous for a 2-core machine under the load tests


def stack_environment(tmp_path, shop_database_url: str | None = None,
                      factory_database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("SHOP_URL", "FACTORY_URL", "ADMIN_TOKEN", "NAME_PREFIX"):
        env.pop(name, None)
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    shop, factory, aws = sorted(ports)
    env.update({
        "SHOP_PORT": str(shop), "FACTORY_PORT": str(factory), "AWS_PORT": str(aws),
        "SHOP_DATABASE_URL": shop_database_url or f"sqlite:///{tmp_path / 'shop.db'}",
        "FACTORY_DATABASE_URL": factory_database_url or f"sqlite:///{tmp_path / 'factory.db'}",
        "PRODUCTION_SECONDS": "0",
        "NO_COLOR": "1",
    })
    env.update(extra)
    return env


class RunningStack:
    def __init__(self, process: StackProcess, env: dict[str, str]):
        self.process = process
        self.env = env
        self.shop_url = f"http://127.0.0.1:{env['SHOP_PORT']}"
        self.factory_url = f"http://127.0.0.1:{env['FACTORY_PORT']}"
        self.aws_url = f"http://127.0.0.1:{env['AWS_PORT']}"
        self.ports = [int(env[name]) for name in ("SHOP_PORT", "FACTORY_PORT", "AWS_PORT")]

    def tree(self) -> set[int]:
        """The supervisor and every process below it, now."""
        return {self.process.process.pid} | descendants(self.process.process.pid)


@pytest.fixture
def start_stack(tmp_path):
    """start_stack(**env) -> a ready RunningStack; stopped afterwards (`StackProcess.stop`)."""
    stacks: list[RunningStack] = []

    def start(shop_database_url=None, factory_database_url=None, **extra) -> RunningStack:
        env = stack_environment(tmp_path, shop_database_url, factory_database_url, **extra)
        process = StackProcess(env, log_path=tmp_path / f"stack{len(stacks)}.log")
        stack = RunningStack(process, env)
        stacks.append(stack)
        process.start()
        process.wait_ready(READY_TIMEOUT)
        return stack

    yield start
    for stack in stacks:
        stack.process.stop()  # kills the supervisor's parts too if it does not stop in time


def processes_left(pids) -> list[int]:
    return [pid for pid in pids if alive(pid)]
