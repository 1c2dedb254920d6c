"""The Celery app. Broker: Redis when REDIS_URL is set, else kombu's embedded filesystem transport.

The beat schedule lives in settings (CELERY_BEAT_SCHEDULE), in one place.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="portal.ping")
def ping(value: str = "pong") -> str:
    """A trivial task: proves the broker, a worker and the result backend work end to end."""
    return value
