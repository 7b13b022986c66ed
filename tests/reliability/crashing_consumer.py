"""A consumer process that dies mid-batch: `python -m tests.reliability.crashing_consumer QUEUE_URL
MARKER APPLY`. It polls the delivery queue like Lambda's event source, applies the first APPLY
records of its batch with the real handler (committed), writes MARKER and then hangs before the
poller could delete anything, waiting for the SIGKILL the test sends."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from consumers import delivery, runtime
from local_stack.poller import QueuePoller


def main(queue_url: str, marker: str, apply: int) -> None:
    def half_then_hang(event, context):
        records = event["Records"]
        answer = delivery.handler({"Records": records[:apply]}, context)
        # Written whole, then renamed: the test must never see the marker half written.
        partial = Path(f"{marker}.partial")
        partial.write_text(json.dumps({"received": len(records), "applied": apply,
                                       "answer": answer}))
        os.replace(partial, marker)
        while True:  # killed here: after the commits, before any delete
            time.sleep(1)

    poller = QueuePoller(runtime.messaging(), queue_url, half_then_hang, batch_size=10,
                         batch_window=2.0, wait_seconds=5, name="crashing-delivery")
    while True:
        poller.poll_once()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
