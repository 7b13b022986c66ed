"""The README's seed `curl` calls, run as written (real curl, ports swapped for the test stack's)
against `python -m local_stack`: each answers 200 and the two purchases print exactly the
messages the README shows. Guards the seed's compatibility through issues 10 and 15 (a JSON
Content-Type on every call, the factory's writes behind SigV4, GET /log's shape)."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import time

import pytest

from local_stack.stack_config import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(300)]


def readme_calls() -> list[tuple[list[str], str | None]]:
    """(curl argv, the answer the README shows after it, if any) of the seed's block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("The seed's calls work unchanged:", 1)[1].split("```sh", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", " ")
    calls: list[tuple[list[str], str | None]] = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("curl "):
            calls.append((shlex.split(line, comments=True), None))
        elif line.startswith("# {") and calls:
            calls[-1] = (calls[-1][0], line[2:])
    return calls


def test_the_readme_block_is_what_this_test_runs():
    calls = readme_calls()
    assert [argv[-1].rsplit("/", 1)[1] for argv, _ in calls] == [
        "item", "item", "replenishment-orders", "log", "item"]
    assert [shown for _, shown in calls if shown] == [
        '{"message":"구매 실패! 남은 재고: 2, 생산요청 진행중"}',
        '{"message":"구매 완료! 남은 재고: 5"}']


def test_the_readme_seed_calls_work_unchanged(start_stack):
    stack = start_stack(PRODUCTION_SECONDS="0")
    ports = {"127.0.0.1:5000": stack.shop_url[7:], "127.0.0.1:5001": stack.factory_url[7:]}
    calls = readme_calls()

    def run(argv: list[str]) -> tuple[int, str]:
        argv = [re.sub(r"127\.0\.0\.1:500[01]", lambda m: ports[m.group(0)], a) for a in argv]
        done = subprocess.run([*argv, "-sS", "-w", "\n%{http_code}"], capture_output=True,
                              text=True, timeout=30, check=True)
        body, _, status = done.stdout.rpartition("\n")
        return int(status), body

    *before, last = calls
    for argv, shown in before:
        status, body = run(argv)
        assert status == 200, (argv, body)
        json.loads(body)
        if shown:
            assert body.strip() == shown
    # "~20 s later": production done and delivered (instant here), then the same purchase sells.
    deadline = time.monotonic() + 60
    while True:
        items = json.loads(run(calls[0][0])[1])
        if next(i for i in items if i["name"] == "Item2")["quantity"] >= 5:
            break
        assert time.monotonic() < deadline, "Item2 was never restocked"
        time.sleep(0.3)
    status, body = run(last[0])
    assert (status, body.strip()) == (200, last[1])
