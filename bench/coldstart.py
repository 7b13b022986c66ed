"""Cold start: a fresh interpreter importing a stage's Lambda entry point and building what it
builds, against one importing flask + sqlalchemy + boto3 alone. Package sizes: bench/packages.py.

The web stages register their routes on the first request (api_common.app.build_routes), and the
consumers import their handler's path on the first message: on Lambda, Zappa imports the app in
the first invocation too, so what a cold request waits for is the start *and* the first request.
Those rows (GET /health through the app, which registers every route) say it."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.common import ROOT, median, progress

BASELINE = "import flask, sqlalchemy, boto3"
FIRST_REQUEST = "assert w.app.test_client().get('/health').status_code == 200"
CONSUMER_SETUP = "from consumers import runtime; runtime.settings()"
ENTRY_POINTS = {
    "shop (shop_api.wsgi:app)": "import shop_api.wsgi",
    "factory (factory_api.wsgi:app)": "import factory_api.wsgi",
    "shop: start + first request (GET /health)": f"import shop_api.wsgi as w; {FIRST_REQUEST}",
    "factory: start + first request (GET /health)":
        f"import factory_api.wsgi as w; {FIRST_REQUEST}",
    "consumers: order": f"import consumers.order; {CONSUMER_SETUP}; runtime.messaging()",
    "consumers: delivery": f"import consumers.delivery; {CONSUMER_SETUP}; runtime.messaging()",
    "consumers: dead_letter": f"import consumers.dead_letter; {CONSUMER_SETUP}",
    "consumers: outbox_sweep": f"import consumers.outbox_sweep; {CONSUMER_SETUP}",
    "factory: production consumer": f"import consumers.production; {CONSUMER_SETUP}",
    "consumers: notify": f"import consumers.notify; {CONSUMER_SETUP}; runtime.messaging()",
    "consumers: lifecycle (scheduled)": f"import consumers.lifecycle; {CONSUMER_SETUP}",
    "consumers: learn_rules (scheduled)": f"import consumers.learn_rules; {CONSUMER_SETUP}",
}
ENV = {"SHOP_DATABASE_URL": "sqlite://", "FACTORY_DATABASE_URL": "sqlite://",
       "PYTHONDONTWRITEBYTECODE": "0"}


def wall_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **ENV}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(repeats: int) -> dict:
    figures = {}
    codes = {"baseline: " + BASELINE: BASELINE, **ENTRY_POINTS}
    progress(f"byte-compiling {len(codes)} entry points once")
    # Byte-compile everything once, as the deployed zip carries the .pyc (the zip callback adds
    # them, deploy/bytecode.py; Zappa alone ships none: bench/lambda_coldstart.py shows that).
    for code in codes.values():
        wall_seconds(code)
    samples: dict[str, list[float]] = {name: [] for name in codes}
    for round_ in range(repeats):  # interleaved, so machine load hits all alike
        progress(f"round {round_ + 1}/{repeats}: each of the {len(codes)} once")
        for name, code in codes.items():
            samples[name].append(wall_seconds(code))
    baseline = median(samples["baseline: " + BASELINE])
    for name, values in samples.items():
        figures[name] = {"seconds": median(values), "ratio": median(values) / baseline}
    return figures
