"""The scheduled functions (the supervisor's `[relay]` part), as EventBridge runs them on AWS.

`python -m local_stack.relay` calls `consumers.outbox_sweep.shop_handler` and `factory_handler`
every RELAY_INTERVAL seconds (3 by default), and `consumers.learn_rules.handler` (learned reorder
rules; hourly on AWS) every LEARN_INTERVAL seconds (60 by default). The APIs and consumers
already publish right after each commit; the sweeps pick up whatever that left behind (moto down
for a moment, a killed worker).
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from inventory_core import logs
from inventory_core.config import Settings
from local_stack.stack_config import RELAY_READY, learn_interval, relay_interval

log = logging.getLogger("local_stack.relay")


def main() -> int:
    logs.configure_from("relay", Settings.from_env())  # LOG_FORMAT: text, or json
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    interval = relay_interval()
    from consumers import learn_rules, outbox_sweep

    sweeps = {"shop": outbox_sweep.shop_handler, "factory": outbox_sweep.factory_handler,
              "learned rules": learn_rules.handler}
    every = {"learned rules": learn_interval()}
    last_run: dict[str, float] = {}
    log.info("%s: sweeping the shop and factory outboxes every %.1fs, learning reorder rules "
             "every %.0fs", RELAY_READY, interval, every["learned rules"])
    failing: set[str] = set()
    while not stop.is_set():
        for name, sweep in sweeps.items():
            if stop.is_set():
                break
            now = time.monotonic()
            if name in every and now - last_run.get(name, -every[name]) < every[name]:
                continue
            last_run[name] = now
            try:
                sweep({}, None)  # it logs what it published
            except Exception as exc:  # next time, then; say so once per outage
                if name not in failing:
                    log.exception("%s run failed; retrying every %.1fs", name, interval)
                    failing.add(name)
                else:
                    log.debug("%s run failed again: %s", name, exc)
                continue
            if name in failing:
                log.info("%s run works again", name)
                failing.discard(name)
        stop.wait(interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
