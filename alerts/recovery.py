"""Work that a lost broker message would strand: re-queued when it has waited too long.

Every write-back to Azure is stored first (pending) and then queued. If the queue loses the message (Redis
restarted without persistence, a worker killed before acknowledging), the row stays pending. This sweep, run by
Celery beat, re-queues pending work older than STALE_PUSH_SECONDS; each task is safe to repeat (the ARM writes are
idempotent, deliveries check their state), and re-queuing moves the row's clock so that it is not queued twice in a
row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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
        stale = list(
            Alert.objects.filter(pending_since__lt=cutoff, pending_failed=False)
            .exclude(pending_status="")
            .values_list("pk", flat=True)[:BATCH]
        )
        Alert.objects.filter(pk__in=stale).update(pending_since=now)
        for pk in stale:
            transaction.on_commit(lambda pk=pk: push_alert_status.delay(pk))
        result.statuses = len(stale)

        plans = list(
            Pricing.objects.filter(pending_since__lt=cutoff)
            .exclude(pending_tier="")
            .values_list("pk", flat=True)[:BATCH]
        )
        Pricing.objects.filter(pk__in=plans).update(pending_since=now)
        for pk in plans:
            transaction.on_commit(lambda pk=pk: push_pricing.delay(pk))
        result.plans = len(plans)

        rules = list(
            SuppressionRule.objects.filter(
                push_state="pending", local_modified_at__lt=cutoff, local_only=False
            ).values_list("pk", flat=True)[:BATCH]
        )
        SuppressionRule.objects.filter(pk__in=rules).update(local_modified_at=now)
        for pk in rules:
            transaction.on_commit(lambda pk=pk: push_rule.delay(pk))
        result.rules = len(rules)

        # one per subscription, no clock of their own: a pending one is pushed again at each sweep (an idempotent PUT)
        contacts = list(
            SecurityContact.objects.filter(pending_push=True, push_error="").values_list("pk", flat=True)[
                :BATCH
            ]
        )
        for pk in contacts:
            transaction.on_commit(lambda pk=pk: push_contact.delay(pk))
        result.contacts = len(contacts)

        # never attempted (the message was lost before any try), or a retry whose countdown message was lost:
        # untouched for longer than the longest backoff
        retry_cutoff = cutoff - timedelta(seconds=MAX_BACKOFF_SECONDS)
        # a worker that died mid-POST left its claim: the delivery is pending again (the receiver may see it twice;
        # X-KV-Delivery lets it tell)
        WebhookDelivery.objects.filter(state="sending", touched_at__lt=cutoff).update(
            state="pending", touched_at=retry_cutoff - timedelta(seconds=1)
        )
        deliveries = list(
            WebhookDelivery.objects.filter(state="pending")
            .filter(
                Q(attempts=0, touched_at__isnull=True, created_at__lt=cutoff)
                | Q(attempts=0, touched_at__lt=cutoff)
                | Q(attempts__gt=0, touched_at__lt=retry_cutoff)
                | Q(attempts__gt=0, touched_at__isnull=True, created_at__lt=retry_cutoff)  # from before 0002
            )
            .values_list("pk", flat=True)[:BATCH]
        )
        WebhookDelivery.objects.filter(pk__in=deliveries).update(touched_at=now)
        for pk in deliveries:
            transaction.on_commit(lambda pk=pk: deliver_webhook.delay(pk))
        result.deliveries = len(deliveries)

        batches = list(
            NotificationBatch.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:BATCH]
        )
        NotificationBatch.objects.filter(pk__in=batches).update(created_at=now)
        for pk in batches:
            transaction.on_commit(lambda pk=pk: notify_new_alerts.delay(batch_pk=pk))
        result.notification_batches = len(batches)
    return result
