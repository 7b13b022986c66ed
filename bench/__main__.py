"""`make bench` (`python -m bench`): every figure against a baseline taken in the same run, written
to docs/benchmarks.md with the command line and the machine.

    python -m bench                      # everything (about 5-10 minutes on 2 cores)
    python -m bench --quick              # shorter runs, same table
    python -m bench --only purchases,consumer --output /tmp/b.md
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    coldstart,
    consumer,
    end_to_end,
    hot_item,
    lambda_coldstart,
    packages,
    profile,
    purchases,
)
from bench.common import ROOT, mariadb_version, part, progress

PARTS = ("purchases", "hot", "consumer", "coldstart", "lambda", "packages", "e2e", "profile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated of {PARTS}")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    unknown = only - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    quick = args.quick
    results: dict = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        if "purchases" in only:
            with part("purchases", "purchases over HTTP: shop vs ceiling app vs hello world"):
                results["purchases"] = purchases.run(6 if quick else 20, workdir)
        if "hot" in only:
            with part("hot", "one hot item, 64 threads: inventory_core vs the bare transaction"):
                results["hot"] = hot_item.run(6 if quick else 16)
        if "consumer" in only:
            with part("consumer", "delivery consumer vs bare SQL"):
                results["consumer"] = consumer.run(200 if quick else 1000)
        if "coldstart" in only:
            with part("cold start", "fresh interpreters, each entry point vs the baseline"):
                results["coldstart"] = coldstart.run(3 if quick else 5)
        if "lambda" in only:
            with part("lambda", "the shop's zip unpacked read-only, with and without its .pyc"):
                results["lambda"] = lambda_coldstart.run(4 if quick else 8)
        if "packages" in only:
            with part("packages", "zappa package per stage from the Lambda virtualenv"):
                results["packages"] = packages.package_sizes(timeout=300)
        if "e2e" in only:
            with part("e2e", "failed purchase -> restocked on the local stack"):
                results["e2e"] = end_to_end.run(5 if quick else 20, workdir)
        if "profile" in only:
            with part("profile", "purchases under pyinstrument"):
                results["profile"] = profile.purchase_profile(300 if quick else 1000)
    text = render(results, argv if argv is not None else sys.argv[1:], time.monotonic() - started)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text, flush=True)
    progress(f"wrote {args.output} ({time.monotonic() - started:.0f} s in all)")
    return 0


def purchase_rows(p: dict) -> list[str]:
    f, one = p["figures"], p["one_client"]
    server = f"gunicorn {p['workers']} workers x {p['threads']} threads, MariaDB"
    ceiling = "the ceiling app (bench/ceiling_app.py)"
    hello = f["hello"]["per_second"]

    def row(name: str, limit: str) -> str:
        ours, top = f[name], f[limit]
        return (f"| purchase over HTTP, {p['clients']} clients, `{name.removeprefix('shop ')}` "
                f"({server}) | {ours['per_second']:.0f}/s, p50 {ours['p50_ms']:.1f} ms | {ceiling}"
                f" `{limit.removeprefix('ceiling ')}`: {top['per_second']:.0f}/s, p50 "
                f"{top['p50_ms']:.1f} ms | {ours['per_second'] / top['per_second']:.2f} |")
    shop1, top1 = one["shop /purchases"], one["ceiling /purchases"]
    return [
        row("shop /item", "ceiling /item"),
        row("shop /purchases", "ceiling /purchases"),
        row("shop /purchases + Idempotency-Key", "ceiling /purchases"),
        (f"| one client, `POST /purchases`, p50 / p99 | {shop1['p50_ms']:.2f} ms / "
         f"{shop1['p99_ms']:.2f} ms | {ceiling}: {top1['p50_ms']:.2f} ms / {top1['p99_ms']:.2f} ms"
         f" | {shop1['p50_ms'] / top1['p50_ms']:.2f}x p50 |"),
        (f"| Flask hello world, {p['clients']} clients, same server | {hello:.0f}/s | - | "
         f"ceiling /purchases is {f['ceiling /purchases']['per_second'] / hello:.2f} of it |"),
    ]


def lambda_rows(lam: dict | None) -> list[str]:
    if not lam:
        return []
    start, unpack, mib, compiled = (lam["cold_start"], lam["unpack"], lam["zip_mib"],
                                    lam["from_source"])
    with_, without = "with .pyc", "without .pyc"
    return [
        (f"| Lambda-like cold start: `{lam['stage']}` zip unpacked read-only, `python -I -S -B`, "
         f"Zappa's handler + GET /health, the zip's .pyc ({compiled[with_]} modules compiled from "
         f"source), {lam['rounds']} rounds | {start[with_] * 1000:.0f} ms | the same zip without "
         f".pyc, as Zappa alone ships it ({compiled[without]} compiled): "
         f"{start[without] * 1000:.0f} ms | {start[with_] / start[without]:.2f} |"),
        (f"| what the .pyc cost: unpacking that zip (Python's zipfile, into memory), "
         f"{mib[with_]:.1f} MiB | {unpack[with_] * 1000:.0f} ms | without .pyc, "
         f"{mib[without]:.1f} MiB: {unpack[without] * 1000:.0f} ms | "
         f"{unpack[with_] / unpack[without]:.2f} |"),
    ]


def _cpu(figure: dict) -> str:
    return f"{figure['client_us']:.0f} / {figure['server_us']:.0f} µs"


def _cpu_total(figure: dict) -> float:
    return figure["client_us"] + figure["server_us"]


def hot_rows(hot: dict) -> list[str]:
    """Per regime: ours against bare and against its own statements by hand, and the purchase
    INSERT inside the lock (the sale before it moved) against bare: the before and after."""
    rows, n = [], hot["threads"]
    where = {"loopback": "loopback",
             "round_trip": f"+{hot['round_trip_ms']:g} ms round trip per statement"}
    for regime, measured in hot["regimes"].items():
        f = measured["figures"]
        ours, bare, hand, in_lock = (f[k] for k in ("inventory_core", "bare", "by_hand",
                                                     "in_lock"))
        rows.append(
            f"| hot item ({where[regime]}): {n} threads buy one item through `inventory_core` "
            f"(no HTTP) | {ours['per_second']:.0f} sales/s, p50 {ours['p50_ms']:.1f} ms | bare "
            f"conditional UPDATE + ledger INSERT + COMMIT, {n} threads: "
            f"{bare['per_second']:.0f}/s, p50 {bare['p50_ms']:.1f} ms | {measured['ratio']:.2f} |")
        rows.append(
            f"| hot item ({where[regime]}), against our sale's own statements by hand | the same "
            f"| pymysql, {n} threads: purchase INSERT + packed UPDATE + ledger INSERT + COMMIT: "
            f"{hand['per_second']:.0f}/s, p50 {hand['p50_ms']:.1f} ms | "
            f"{measured['ratio_by_hand']:.2f} |")
        rows.append(
            f"| hot item ({where[regime]}), by hand: before / after the purchase INSERT left the "
            f"lock | packed UPDATE + purchase INSERT + ledger INSERT + COMMIT: "
            f"{in_lock['per_second']:.0f}/s ({measured['in_lock_to_bare']:.2f} of bare) | "
            f"purchase INSERT first: {hand['per_second']:.0f}/s "
            f"({measured['by_hand_to_bare']:.2f} of bare) | "
            f"{hand['per_second'] / in_lock['per_second']:.2f} |")
        if regime != "loopback":  # there the sleeps' thread wake-ups fill the client's CPU
            continue
        rows.append(
            f"| hot item ({where[regime]}): CPU per sale, the clients' process / the MariaDB "
            f"server | ours: {_cpu(ours)} | bare: {_cpu(bare)}; by hand: {_cpu(hand)} | "
            f"{_cpu_total(ours) / _cpu_total(bare):.2f}x bare's |"
            if ours["server_us"] is not None and bare["server_us"] is not None else
            f"| hot item ({where[regime]}): CPU per sale of the clients' process (the server "
            f"runs elsewhere) | ours: {ours['client_us']:.0f} µs | bare: "
            f"{bare['client_us']:.0f} µs | {ours['client_us'] / bare['client_us']:.2f}x bare's |")
    return rows


def render(results: dict, argv: list[str], seconds: float) -> str:
    command = "make bench" if not argv else f".venv/bin/python -m bench {shlex.join(argv)}"
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench`); rerun it to refresh every figure.",
        "Each figure is set against a baseline measured in the same run on the same machine,",
        "so the ratios mean more than the absolute numbers (which depend on the machine and its",
        "load).",
        "",
        f"- command: `{command}` ({seconds:.0f} s)",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        (f"- machine: {os.cpu_count()} cores (nproc), {platform.machine()}, "
         f"{platform.system()} {platform.release()}"),
        f"- Python {platform.python_version()}; MariaDB {mariadb_version()}",
        "",
        "| benchmark | figure | baseline (same run) | ratio |",
        "| --- | --- | --- | --- |",
    ]
    p = results.get("purchases")
    if p:
        lines += purchase_rows(p)
    hot = results.get("hot")
    if hot:
        lines += hot_rows(hot)
    c = results.get("consumer")
    if c:
        lines.append(
            f"| delivery consumer, Lambda-shaped batches of 10 `production.completed` "
            f"({c['messages']} messages, MariaDB) | {c['handler']:.0f} messages/s | the same "
            f"statements in plain SQL, one transaction per message: {c['bare']:.0f}/s | "
            f"{c['ratio']:.3f} |")
    cold = results.get("coldstart")
    if cold:
        base_name = next(n for n in cold if n.startswith("baseline"))
        base = cold[base_name]["seconds"]
        for name, figure in cold.items():
            if name == base_name:
                continue
            lines.append(f"| cold start: fresh interpreter, import + build, {name} | "
                         f"{figure['seconds'] * 1000:.0f} ms | `{base_name[10:]}`: "
                         f"{base * 1000:.0f} ms | {figure['ratio']:.2f} |")
    lines += lambda_rows(results.get("lambda"))
    e = results.get("e2e")
    if e:
        lines.append(
            f"| end to end: failed purchase -> stock restored (`python -m local_stack`, "
            f"PRODUCTION_SECONDS=0), {e['runs']} runs | median {e['median']:.2f} s, p95 "
            f"{e['p95']:.2f} s (min {e['min']:.2f}, max {e['max']:.2f}) | - | - |")
    sizes = results.get("packages")
    if sizes:
        lines += ["", "## Package size per stage (`zappa package STAGE`)", "",
                  ("Packaged from the Lambda virtualenv (`make lambda-venv`: manylinux2014 "
                   "wheels for Lambda's glibc 2.26), as a deploy uploads it."), "",
                  f"| stage | zip (budget {packages.LIMIT_MIB:.0f} MiB) |", "| --- | --- |"]
        lines += [f"| {stage} | {size} |" for stage, size in sizes.items()]
    if e:
        lines += ["", f"The local stack took {e['ready']:.1f} s from start to ready."]
    checks = {name: results[name]["check"] for name in ("purchases", "hot") if name in results}
    if checks:
        lines += ["", "Correctness after the runs: " + "; ".join(
            f"{name}: oversold {c['oversold']}, ledger "
            f"{'balanced' if c['ledger_balanced'] else 'NOT BALANCED'}"
            + ("" if c.get("sold_matches", True) else ", purchases and stock DISAGREE")
            for name, c in checks.items()) + "."]
    if results.get("profile"):
        lines += [
            "", "## Where a purchase's time goes", "",
            "A sale costs a whole request around its statements (WSGI, Flask, flask-smorest and",
            "marshmallow validation, the purchase INSERT, the conditional UPDATE (which also",
            "decides the reorder; who the item is, is kept per process once read), the ledger",
            "INSERT, the COMMIT, a log line and metrics). Below, pyinstrument's profile",
            "of purchases through the Flask app alone (test client, no HTTP server), on MariaDB:",
            "", "```", results["profile"], "```",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
