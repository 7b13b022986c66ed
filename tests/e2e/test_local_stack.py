"""`python -m local_stack` (what `make run` runs) as a user meets it: the seed's story over HTTP,
a part crashing, a clean stop on SIGTERM, and a clear refusal to start twice."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from local_stack.launcher import descendants
from local_stack.stack_config import ROOT
from local_stack.supervisor import port_problem
from tests.conftest import MYSQL_SERVER_URL, free_port, new_database_url, require_mysql
from tests.e2e.conftest import processes_left

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(300)]

SHORTAGE = "구매 실패! 남은 재고: 2, 생산요청 진행중"
SOLD = "구매 완료! 남은 재고: 5"


def item2(stack) -> dict:
    items = requests.get(f"{stack.shop_url}/item", timeout=10).json()
    return next(i for i in items if i["name"] == "Item2")


def buy_five_item2(stack) -> str:
    response = requests.post(f"{stack.shop_url}/item", timeout=10, json={
        "item_name": "Item2", "quantity": 5, "requester": "e2e"})
    assert response.status_code == 200, response.text
    return response.json()["message"]


def wait_until(condition, timeout: float, what: str, stack=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    tail = f"\nstack output:\n{stack.process.tail(40)}" if stack else ""
    raise AssertionError(f"{what}: not within {timeout}s{tail}")


def drive_seed_story(stack) -> float:
    """The seed's system test; the seconds from the failed purchase to the restored stock."""
    assert item2(stack)["quantity"] == 2
    assert buy_five_item2(stack) == SHORTAGE
    failed_at = time.monotonic()
    wait_until(lambda: item2(stack)["quantity"] == 10, 45, "Item2 restocked to 10", stack)
    restocked_after = time.monotonic() - failed_at
    assert buy_five_item2(stack) == SOLD
    assert item2(stack)["quantity"] == 5

    logs = requests.get(f"{stack.factory_url}/log", timeout=10).json()
    # The seed's shape; the requester masked for a caller who is not an operator.
    assert logs[0]["requester"] == "j***"  # the seed's sample log: "jeonghun"
    produced = [entry for entry in logs
                if entry["item_name"] == "Item2" and entry["requester"] == "e***"]
    assert len(produced) == 1
    assert produced[0]["quantity"] == 8 and produced[0]["factory_name"] == "Factory2"
    orders = requests.get(f"{stack.shop_url}/replenishment-orders", timeout=10).json()
    assert [(o["item_id"], o["status"], o["quantity"]) for o in orders] == [(2, "fulfilled", 8)]
    return restocked_after


def stop_and_check_nothing_is_left(stack) -> None:
    tree = stack.tree()
    assert len(tree) >= 6, f"expected supervisor, moto, 2 gunicorns, consumers, relay: {tree}"
    started = time.monotonic()
    status = stack.process.stop(timeout=30)
    took = time.monotonic() - started
    assert status == 0, stack.process.tail()
    # Nothing may be left: not even a worker a dead master forgot (no grace period here).
    assert not processes_left(tree), f"left running: {processes_left(tree)}"
    assert not [port for port in stack.ports if port_problem("127.0.0.1", port)]
    # Apps, then moto, each with an 8 s grace before SIGKILL: well under that when all goes well.
    assert took < 25, f"stopping took {took:.1f}s"
    assert "are free" in stack.process.tail(3)


def test_seed_story_on_sqlite_then_sigterm_leaves_nothing(start_stack):
    stack = start_stack()
    output = "\n".join(stack.process.lines)
    for part in ("[moto]", "[setup]", "[shop]", "[factory]", "[consumers]", "[relay]"):
        assert part in output, f"no {part} line in:\n{output}"
    assert f"shop {stack.shop_url}" in output and f"factory {stack.factory_url}" in output
    assert "admin token:" in output  # generated for the session, printed, never written
    assert requests.get(f"{stack.shop_url}/docs", timeout=10).status_code == 200

    drive_seed_story(stack)
    stop_and_check_nothing_is_left(stack)
    assert "Traceback" not in "\n".join(stack.process.lines), stack.process.tail(60)


def test_seed_story_on_mariadb(start_stack, tmp_path):
    require_mysql()
    shop_url, drop_shop = new_database_url("mysql", tmp_path, "e2e_shop")  # empty, created here
    # The factory's database does not exist yet: the stack creates it, as for a first `make run`.
    factory_name = f"t_e2e_factory_{uuid.uuid4().hex[:12]}"
    factory_url = make_url(MYSQL_SERVER_URL).set(database=factory_name).render_as_string(False)
    try:
        stack = start_stack(shop_database_url=shop_url, factory_database_url=factory_url)
        output = "\n".join(stack.process.lines)
        assert f"created database {factory_name}" in output
        assert "shop database mysql+pymysql://" in output and "seeded" in output
        drive_seed_story(stack)
        stop_and_check_nothing_is_left(stack)
    finally:
        drop_shop()
        server = create_engine(MYSQL_SERVER_URL)
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{factory_name}`"))
        server.dispose()


def run_localstack(env, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_stack"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_starting_twice_or_on_a_taken_port_says_so_clearly(start_stack):
    stack = start_stack()
    second = run_localstack(stack.env)
    assert second.returncode == 2
    assert second.stdout == ""
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "already in use" in lines[0] and "already" in lines[0]
    assert "seems to be running already" in lines[0]
    assert "Traceback" not in second.stderr
    assert requests.get(f"{stack.shop_url}/health", timeout=5).status_code == 200  # untouched

    # Another program on one port: refused before anything starts (moto's port stays free).
    env = dict(stack.env)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env["FACTORY_PORT"] = str(squatter.getsockname()[1])
        env["SHOP_PORT"], env["AWS_PORT"] = str(free_port()), str(free_port())
        started = time.monotonic()
        refused = run_localstack(env)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"{env['FACTORY_PORT']} (FACTORY_PORT) already in use" in refused.stderr
        assert "another program listens there" in refused.stderr
        assert time.monotonic() - started < 20  # refused at once, before anything started
        assert port_problem("127.0.0.1", int(env["AWS_PORT"])) is None


def _part_pid(stack, needle: str) -> int:
    supervisor = stack.process.process.pid
    for pid in descendants(supervisor):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode()
            with open(f"/proc/{pid}/stat", "rb") as f:
                parent = int(f.read().rsplit(b")", 1)[1].split()[1])
        except OSError:
            continue
        if needle in cmdline and parent == supervisor:
            return pid
    raise AssertionError(f"no part running {needle!r}")


def test_a_crashed_part_is_restarted(start_stack):
    stack = start_stack(PRODUCTION_SECONDS="0")
    for needle, name in (("shop_api.wsgi", "shop"), ("local_stack.event_sources", "consumers"),
                         ("moto.server", "moto")):
        os.killpg(_part_pid(stack, needle), signal.SIGKILL)
        wait_until(lambda name=name: f"{name} is back" in "\n".join(stack.process.lines), 30,
                   f"{name} restarted", stack)
        assert f"{name} stopped unexpectedly (killed by SIGKILL" in "\n".join(stack.process.lines)
    # moto keeps its queues in memory: the supervisor recreated the topology on the new one.
    output = "\n".join(stack.process.lines)
    assert len(re.findall(r"^\[setup\] +topology on moto", output, re.M)) == 2
    # Still the whole story, with the restarted shop, consumers and broker.
    drive_seed_story(stack)
    stop_and_check_nothing_is_left(stack)
