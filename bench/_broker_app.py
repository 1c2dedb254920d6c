"""A Celery app for bench/broker_restart.py: the portal's broker settings (portal/settings.py) and two tasks that
behave like the portal's write-backs (short, and queueing more work from inside the worker). It is its own app, not
the portal's, so that the benchmark needs no database and measures Celery and kombu alone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery

app = Celery("bench_broker", broker=os.environ["BENCH_REDIS_URL"], backend=os.environ["BENCH_REDIS_URL"])
app.conf.update(
    # as portal/settings.py sets them for the Redis broker
    broker_transport_options={"visibility_timeout": 3600},
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    task_acks_late=False,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)
MARKS = Path(os.environ["BENCH_MARK_DIR"])


@app.task(name="bench.mark")
def mark(name: str, work: float = 0.0) -> str:
    """Sleep `work` seconds, then leave a file called `name`: the probe that the worker consumes."""
    time.sleep(work)
    (MARKS / name).touch()
    return name


@app.task(name="bench.fan_out", bind=True, max_retries=100)
def fan_out(self, depth: int = 3) -> int:
    """Queue another of itself from inside the worker (as a push's retry does), `depth` times."""
    time.sleep(0.05)
    try:
        if depth:
            fan_out.delay(depth - 1)
    except Exception as exc:  # the broker is down: try again, as the portal's tasks do
        raise self.retry(countdown=1, exc=exc) from exc
    return depth
