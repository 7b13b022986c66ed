"""The outbox sweep on a schedule (the supervisor's `[relay]` part), as EventBridge runs it on AWS.

`python -m local_stack.relay` calls `consumers.outbox_sweep.shop_handler` and `factory_handler`
every RELAY_INTERVAL seconds (3 by default). The APIs and consumers already publish right after
each commit; this picks up whatever that left behind (moto down for a moment, a killed worker).
"""
from __future__ import annotations

import logging
import signal
import sys
import threading

from inventory_core import logs
from inventory_core.config import Settings
from local_stack.stack_config import RELAY_READY, relay_interval

log = logging.getLogger("local_stack.relay")


def main() -> int:
    logs.configure_from("relay", Settings.from_env())  # LOG_FORMAT: text, or json
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    interval = relay_interval()
    from consumers import outbox_sweep

    sweeps = {"shop": outbox_sweep.shop_handler, "factory": outbox_sweep.factory_handler}
    log.info("%s: sweeping the shop and factory outboxes every %.1fs", RELAY_READY, interval)
    failing: set[str] = set()
    while not stop.is_set():
        for name, sweep in sweeps.items():
            if stop.is_set():
                break
            try:
                sweep({}, None)  # it logs what it published
            except Exception as exc:  # next time, then; say so once per outage
                if name not in failing:
                    log.exception("%s outbox sweep failed; retrying every %.1fs", name, interval)
                    failing.add(name)
                else:
                    log.debug("%s outbox sweep failed again: %s", name, exc)
                continue
            if name in failing:
                log.info("%s outbox sweep works again", name)
                failing.discard(name)
        stop.wait(interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
