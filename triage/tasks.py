"""Triage tasks: webhook deliveries (retried with backoff) and the retention purge."""

from __future__ import annotations

import random

from celery import Task, shared_task
from django.conf import settings

from triage.webhooks import MAX_ATTEMPTS, deliver

MAX_BACKOFF_SECONDS = 600


def backoff(retries: int) -> float:
    growth: int = 3**retries  # an int: retries >= 0 (the checker types int ** int as Any)
    return min(MAX_BACKOFF_SECONDS, 5 * growth) + random.uniform(0, 2)


@shared_task(bind=True, acks_late=True, max_retries=MAX_ATTEMPTS, name="triage.deliver_webhook")
def deliver_webhook(self: Task[[int], str], delivery_pk: int) -> str:
    result = deliver(delivery_pk)
    if result is None:
        raise self.retry(countdown=backoff(self.request.retries))
    return "done" if result else "failed"


@shared_task(name="triage.deliver_webhooks")
def deliver_webhooks(delivery_pks: list[int]) -> int:
    """Fan out a batch of deliveries queued together (a sync page's new alerts) to one task each, so that the
    sync queues one message however many there are, and a slow receiver delays only its own deliveries."""
    for pk in delivery_pks:
        deliver_webhook.delay(pk)
    return len(delivery_pks)


@shared_task(name="triage.retention_purge")
def retention_purge() -> int:
    """The optional retention policy (RETENTION_CLOSED_DAYS > 0): purge alerts closed more than N days ago."""
    from triage.services import retention_purge as purge

    if settings.RETENTION_CLOSED_DAYS <= 0:
        return 0
    return purge(actor=None, days=settings.RETENTION_CLOSED_DAYS, dry_run=False)
