"""The Celery app. Broker: Redis when REDIS_URL is set, else kombu's embedded filesystem transport.

The beat schedule lives in settings (CELERY_BEAT_SCHEDULE), in one place.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Seconds before retry number `retries + 1` of a write to Azure: Azure's Retry-After when it gave one, else
    doubling up to a minute; plus up to a second of jitter."""
    base = retry_after if retry_after else min(60.0, 2.0**retries)
    return base + random.uniform(0, 1)


def retry_transient(task: Any, exc: Exception, *, limit: int = 5) -> None:
    """Retry `task` after `backoff` while it has retries left; else return and let the caller record the failure."""
    if task.request.retries < limit:
        raise task.retry(countdown=backoff(task.request.retries, getattr(exc, "retry_after", None))) from exc


def _requeue_stale() -> int:
    """Re-queue write-backs, deliveries and notification batches whose broker message was lost (portal.recovery;
    each app registers its own step)."""
    from portal.recovery import (
        requeue_stale,  # here, not at the top: the Celery app loads before Django's apps
    )

    return requeue_stale().total


requeue_stale = app.task(name="portal.requeue_stale")(_requeue_stale)
# the name this task had when the sweep lived in the alerts app: messages queued before an upgrade still run
requeue_stale_legacy = app.task(name="alerts.requeue_stale")(_requeue_stale)


@app.task(name="portal.worker_alive")
def worker_alive() -> str:
    """Sent by beat every WORKER_ALIVE_SECONDS: the worker that runs it touches var/worker-alive. A supervisor
    (`dev.py run`, the drills) restarts a worker whose file grows old: after a Redis restart a worker may stay up
    but consume nothing (seen once in the drills), which only a task that must get through can tell."""
    from django.conf import settings  # the Celery app loads before Django's settings are configured

    path = Path(settings.VAR_DIR) / "worker-alive"
    path.touch()
    return str(path)


@app.task(name="portal.ping")
def ping(value: str = "pong") -> str:
    """A trivial task: proves the broker, a worker and the result backend work end to end."""
    return value
