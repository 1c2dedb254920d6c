"""Work that a lost broker message would strand: re-queued when it has waited too long.

Every write-back to Azure is stored first (pending) and then queued. If the queue loses the message (Redis
restarted without persistence, a worker killed before acknowledging), the row stays pending. This sweep, run by
Celery beat, re-queues pending work older than STALE_PUSH_SECONDS; each task is safe to repeat (the ARM writes are
idempotent, deliveries check their state), and re-queuing moves the row's clock so that it is not queued twice in a
row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

BATCH = 500

# name -> step(now, cutoff) -> rows queued again. Each app registers its own step at start-up (its AppConfig.ready):
# alerts (statuses), pricing (plans), suppression (rules), notifications (contacts, notification batches), triage
# (webhook deliveries). This module knows none of them.
_STEPS: dict[str, Callable[[datetime, datetime], int]] = {}


def register(name: str, step: Callable[[datetime, datetime], int]) -> None:
    _STEPS[name] = step


class Requeued:
    """How many rows each step queued again (`result.statuses`, ...; 0 for a step that queued none)."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.counts.get(name, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def requeue(stale: QuerySet[Any], send: Callable[[int], Any], **clock: Any) -> int:
    """Queue `send(pk)` again for up to BATCH stale rows, once committed, and move their clock (`clock`: the
    fields to set) so the next sweep leaves them alone. The update re-checks the staleness, so a row that moved on
    meanwhile keeps its state (its task then finds nothing to do)."""
    pks = list(stale.values_list("pk", flat=True)[:BATCH])
    if clock:
        stale.filter(pk__in=pks).update(**clock)
    for pk in pks:
        transaction.on_commit(functools.partial(send, pk))
    return len(pks)


def requeue_stale(*, now: datetime | None = None) -> Requeued:
    """Run every registered step in one transaction: work pending for longer than STALE_PUSH_SECONDS is queued
    again."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.STALE_PUSH_SECONDS)
    counts: dict[str, int] = {}
    with transaction.atomic():
        for name, step in sorted(_STEPS.items()):
            counts[name] = step(now, cutoff)
    return Requeued(counts)
