"""Work that a lost broker message would strand: re-queued when it has waited too long.

Every write-back to Azure is stored first (pending) and then queued. If the queue loses the message (Redis
restarted without persistence, a worker killed before acknowledging), the row stays pending. This sweep, run by
Celery beat, re-queues pending work older than STALE_PUSH_SECONDS; each task is safe to repeat (the ARM writes are
idempotent, deliveries check their state), and re-queuing moves the row's clock so that it is not queued twice in a
row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.models import Alert, NotificationBatch, SecurityContact, SuppressionRule

BATCH = 500


@dataclass
class Requeued:
    statuses: int = 0
    plans: int = 0
    rules: int = 0
    contacts: int = 0
    deliveries: int = 0
    notification_batches: int = 0

    @property
    def total(self) -> int:
        return (
            self.statuses
            + self.plans
            + self.rules
            + self.contacts
            + self.deliveries
            + self.notification_batches
        )


def _requeue(stale: QuerySet[Any], send: Callable[[int], Any], **clock: Any) -> int:
    """Queue `send(pk)` again for up to BATCH stale rows, once committed, and move their clock (`clock`: the
    fields to set) so the next sweep leaves them alone. The update re-checks the staleness, so a row that moved on
    meanwhile keeps its state (its task then finds nothing to do)."""
    pks = list(stale.values_list("pk", flat=True)[:BATCH])
    if clock:
        stale.filter(pk__in=pks).update(**clock)
    for pk in pks:
        transaction.on_commit(lambda pk=pk: send(pk))
    return len(pks)


def requeue_stale(*, now: datetime | None = None) -> Requeued:
    from alerts.tasks import notify_new_alerts, push_alert_status, push_contact, push_rule
    from pricing.models import Pricing
    from pricing.tasks import push_pricing
    from triage.models import WebhookDelivery
    from triage.tasks import MAX_BACKOFF_SECONDS, deliver_webhook

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.STALE_PUSH_SECONDS)
    result = Requeued()
    with transaction.atomic():
        result.statuses = _requeue(
            Alert.objects.filter(pending_since__lt=cutoff, pending_failed=False).exclude(pending_status=""),
            push_alert_status.delay,
            pending_since=now,
        )
        result.plans = _requeue(
            Pricing.objects.filter(pending_since__lt=cutoff).exclude(pending_tier=""),
            push_pricing.delay,
            pending_since=now,
        )
        result.rules = _requeue(
            SuppressionRule.objects.filter(
                push_state="pending", local_modified_at__lt=cutoff, local_only=False
            ),
            push_rule.delay,
            local_modified_at=now,
        )
        # one per subscription, no clock of their own: a pending one is pushed again at each sweep (an idempotent PUT)
        result.contacts = _requeue(
            SecurityContact.objects.filter(pending_push=True, push_error=""), push_contact.delay
        )
        # never attempted (the message was lost before any try), or a retry whose countdown message was lost
        # (untouched for longer than the longest backoff); or claimed by a worker that died mid-POST (the receiver
        # may then see it twice; X-KV-Delivery lets it tell)
        retry_cutoff = cutoff - timedelta(seconds=MAX_BACKOFF_SECONDS)
        result.deliveries = _requeue(
            WebhookDelivery.objects.filter(
                Q(state="pending", attempts=0, touched_at__lt=cutoff)
                | Q(state="pending", attempts__gt=0, touched_at__lt=retry_cutoff)
                | Q(state="sending", touched_at__lt=cutoff)
            ),
            deliver_webhook.delay,
            state="pending",
            touched_at=now,
        )
        result.notification_batches = _requeue(
            NotificationBatch.objects.filter(created_at__lt=cutoff),
            lambda pk: notify_new_alerts.delay(batch_pk=pk),
            created_at=now,
        )
    return result
