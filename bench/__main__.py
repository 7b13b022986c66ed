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

from bench import coldstart, consumer, end_to_end, profile, purchases
from bench.common import ROOT, mariadb_version

PARTS = ("purchases", "consumer", "coldstart", "packages", "e2e", "profile")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


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
            log("purchases over HTTP vs bare UPDATEs ...")
            results["purchases"] = purchases.run(5 if quick else 15, workdir)
        if "consumer" in only:
            log("delivery consumer vs bare SQL ...")
            results["consumer"] = consumer.run(200 if quick else 1000)
        if "coldstart" in only:
            log("cold starts ...")
            results["coldstart"] = coldstart.run(3 if quick else 5)
        if "packages" in only:
            log("zappa package per stage ...")
            results["packages"] = coldstart.package_sizes(timeout=300)
        if "e2e" in only:
            log("end to end on the local stack ...")
            results["e2e"] = end_to_end.run(5 if quick else 20, workdir)
        if "profile" in only:
            log("profiling purchases ...")
            results["profile"] = profile.purchase_profile(300 if quick else 1000)
    text = render(results, argv if argv is not None else sys.argv[1:], time.monotonic() - started)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)
    log(f"wrote {args.output}")
    return 0


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
        h, b = p["http"], p["bare"]
        lines += [
            (f"| purchase over HTTP, {p['clients']} clients (gunicorn {p['workers']} workers x "
             f"{p['threads']} threads, MariaDB) | {h['per_second']:.0f} purchases/s "
             f"({h['calls']} in total) | bare `UPDATE items ... WHERE quantity >= 1` from "
             f"{p['clients']} threads: {b['per_second']:.0f}/s | {p['ratio']:.3f} |"),
            (f"| purchase latency p50 / p99 | {h['p50_ms']:.1f} ms / {h['p99_ms']:.1f} ms | "
             f"bare UPDATE p50 / p99: {b['p50_ms']:.2f} ms / {b['p99_ms']:.2f} ms | "
             f"{h['p50_ms'] / b['p50_ms']:.1f}x / {h['p99_ms'] / b['p99_ms']:.1f}x |"),
        ]
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
    e = results.get("e2e")
    if e:
        lines.append(
            f"| end to end: failed purchase -> stock restored (`python -m local_stack`, "
            f"PRODUCTION_SECONDS=0), {e['runs']} runs | median {e['median']:.2f} s, p95 "
            f"{e['p95']:.2f} s (min {e['min']:.2f}, max {e['max']:.2f}) | - | - |")
    packages = results.get("packages")
    if packages:
        lines += ["", "## Package size per stage (`zappa package STAGE`)", "",
                  "| stage | zip |", "| --- | --- |"]
        lines += [f"| {stage} | {size} |" for stage, size in packages.items()]
    if e:
        lines += ["", f"The local stack took {e['ready']:.1f} s from start to ready."]
    if results.get("profile"):
        lines += [
            "", "## The slowest part and its profile", "",
            "Relative to its baseline the slowest figure is the purchase over HTTP: the same sale",
            "as one bare UPDATE costs a whole request (WSGI, Flask, flask-smorest/webargs",
            "validation, a SQLAlchemy unit of work with its SELECTs, the row lock, the purchase",
            "and ledger INSERTs and the COMMIT). Below, pyinstrument's profile of purchases",
            "through the Flask app alone (test client, no HTTP server), on MariaDB:",
            "", "```", results["profile"], "```",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
