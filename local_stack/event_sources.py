"""Every consumer of the topology, fed as Lambda's SQS event source mappings would feed it.

`python -m local_stack.event_sources` (the supervisor's `[consumers]` part) runs one
`local_stack.poller.QueuePoller` thread per queue of `inventory_core.topology.TOPOLOGY`, with that
queue's consumer function and batch size/window, and one per dead-letter queue with the
dead-letter consumer. The list comes from the topology alone, so a queue added there is consumed
here without a change; a consumer whose module does not exist (yet) is reported and skipped: its
queue is not polled at all, so its messages wait there instead of burning their receive count.
Beside the pollers, each scheduled function with local_part "consumers" in
`inventory_core.topology.SCHEDULES` (the replenishment lifecycle check; the learned rules run in
the relay) runs every LIFECYCLE_INTERVAL seconds, as EventBridge runs it
every minute on AWS: in this part, so it holds the consumers' credentials (it signs its factory
reads with the writer's key pair, as the order consumer signs its writes).
SIGTERM or SIGINT stops every poller.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from inventory_core import logs
from inventory_core.adapters.messaging import Messaging
from inventory_core.config import Settings
from inventory_core.topology import SCHEDULES, TOPOLOGY, Topology
from local_stack.poller import LambdaContext, PollStats, QueuePoller, load_function, pollers_for
from local_stack.stack_config import EVENT_SOURCES_READY, lifecycle_interval

log = logging.getLogger("local_stack.event_sources")
WAIT_SECONDS = 5  # long polling; also bounds how long a stop waits for an idle poller
STOP_GRACE_SECONDS = 2.0  # then in-flight invocations are abandoned, as when a Lambda dies


def function_problem(dotted: str) -> str | None:
    """None if `dotted` names a function we can call, else why not (one line)."""
    module_name = dotted.rpartition(".")[0]
    try:
        function = load_function(dotted)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return f"module {module_name} does not exist"
        return f"module {module_name} cannot be imported: {exc}"
    except AttributeError:
        return f"module {module_name} has no function {dotted.rpartition('.')[2]}"
    except Exception as exc:  # a broken module must not stop the other consumers
        log.exception("importing %s failed", module_name)
        return f"module {module_name} cannot be imported: {exc.__class__.__name__}: {exc}"
    if not callable(function):
        return f"{dotted} is not a function"
    return None


def build_pollers(messaging: Messaging, topology: Topology = TOPOLOGY,
                  wait_seconds: int = WAIT_SECONDS) -> list[QueuePoller]:
    """The pollers whose function can be loaded; the others are logged as skipped."""
    usable = []
    for poller in pollers_for(messaging, topology, wait_seconds=wait_seconds):
        dotted = poller.function if isinstance(poller.function, str) else repr(poller.function)
        problem = function_problem(dotted) if isinstance(poller.function, str) else None
        if problem:
            log.warning("SKIPPED queue %s: its consumer %s is unavailable (%s); its messages wait "
                        "in the queue until a restart finds the consumer", poller.name, dotted,
                        problem)
            continue
        usable.append(poller)
    return usable


def log_invocation(name: str, stats: PollStats) -> None:
    """One line per invocation (none for an empty poll), so the story can be followed."""
    if not stats.received:
        return
    outcome = (f"the function raised: all {stats.failed} will be redelivered" if stats.errors else
               f"{stats.deleted} done" + (f", {stats.failed} to be redelivered"
                                          if stats.failed else ""))
    log.info("%s: %d message(s)%s -> %s", name, stats.received,
             f" ({stats.redeliveries} redelivered)" if stats.redeliveries else "", outcome)


def run_poller(poller: QueuePoller, stop: threading.Event) -> None:
    """`QueuePoller.run`, logging every invocation."""
    poller.run(stop, on_poll=lambda stats: log_invocation(poller.name, stats))


def run_schedule(dotted: str, interval: float, stop: threading.Event) -> None:
    """Call `dotted(event, context)` every `interval` seconds until `stop`; a failure is logged
    and the next run tries again (EventBridge would invoke it again a minute later)."""
    failing = False
    while not stop.wait(interval):
        try:
            function = load_function(dotted)
            function({"source": "local.schedule"}, LambdaContext(dotted, 60))
        except Exception:  # say so once per outage, keep the schedule
            if not failing:
                log.exception("scheduled %s failed; trying again every %.1fs", dotted, interval)
            failing = True
        else:
            if failing:
                log.info("scheduled %s works again", dotted)
            failing = False


def main() -> int:
    logs.configure_from("consumers", Settings.from_env())  # LOG_FORMAT: text, or json
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("stopping the pollers (%s)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    messaging = Messaging(Settings.from_env())
    pollers: list[QueuePoller] = []
    pause = 0.5
    while not stop.is_set() and not pollers:
        try:
            pollers = build_pollers(messaging)
        except Exception as exc:  # noqa: BLE001 - e.g. moto restarting: its queues come back
            log.warning("queues not reachable yet (%s: %s); retrying", exc.__class__.__name__, exc)
        else:
            if pollers:
                break
            log.warning("no queue has a consumer that can be loaded; retrying in %.1fs", pause)
        stop.wait(pause)
        pause = min(pause * 2, 5)
    if stop.is_set():
        return 0
    threads = [threading.Thread(target=run_poller, args=(p, stop), name=p.name, daemon=True)
               for p in pollers]
    interval = lifecycle_interval()
    threads += [threading.Thread(target=run_schedule, args=(s.function, interval, stop),
                                 name=s.function, daemon=True)
                for s in SCHEDULES if s.local_part == "consumers"]
    for thread in threads:
        thread.start()
    log.info("%s: polling %d queues: %s; every %.1fs: %s", EVENT_SOURCES_READY, len(pollers),
             ", ".join(f"{p.name} -> {p.function}" for p in pollers), interval,
             ", ".join(s.function for s in SCHEDULES if s.local_part == "consumers"))
    while not stop.is_set():
        stop.wait(1)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    busy = [t.name for t in threads if t.is_alive()]
    if busy:  # their messages become visible again after the visibility timeout
        log.info("left %d poller(s) mid-call: %s", len(busy), ", ".join(busy))
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    # Daemon threads may sit in a long poll: leave now rather than wait for it at interpreter exit.
    os._exit(code)
