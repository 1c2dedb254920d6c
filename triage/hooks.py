"""What triage registers at start-up: incidents grouped and webhooks announced on new alerts, incidents regrouped
on changed ones, and the webhook deliveries' step of the stale-work sweep."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from alerts import hooks
from portal import recovery
from triage import services, tasks, webhooks
from triage.models import WebhookDelivery


def _group_new(batch: hooks.NewAlerts) -> None:
    if batch.correlation_keys is None:
        services.incidents_attach(alert_ids=batch.alert_ids, subscription_pk=batch.subscription_pk)
    else:
        services.incidents_group(subscription_pk=batch.subscription_pk, keys=batch.correlation_keys)


def _group_changed(changed: hooks.ChangedAlerts) -> None:
    services.incidents_group(subscription_pk=changed.subscription_pk, keys=changed.correlation_keys)


def _announce(batch: hooks.NewAlerts) -> None:
    fresh = batch.fresh
    if fresh and not batch.backlog:
        webhooks.webhooks_for_new_alerts(alert_ids=fresh, subscription_pk=batch.subscription_pk)


def _requeue_deliveries(now: datetime, cutoff: datetime) -> int:
    # never attempted (the message was lost before any try), or a retry whose countdown message was lost
    # (untouched for longer than the longest backoff); or claimed by a worker that died mid-POST (the receiver
    # may then see it twice; X-KV-Delivery lets it tell)
    retry_cutoff = cutoff - timedelta(seconds=tasks.MAX_BACKOFF_SECONDS)
    return recovery.requeue(
        WebhookDelivery.objects.filter(
            Q(state="pending", attempts=0, touched_at__lt=cutoff)
            | Q(state="pending", attempts__gt=0, touched_at__lt=retry_cutoff)
            | Q(state="sending", touched_at__lt=cutoff)
        ),
        tasks.deliver_webhook.delay,
        state="pending",
        touched_at=now,
    )


def register_all() -> None:
    hooks.on_new_alerts("incidents", _group_new, order=20)
    hooks.on_new_alerts("webhooks", _announce, order=40)
    hooks.on_changed_alerts("incidents", _group_changed)
    recovery.register("deliveries", _requeue_deliveries)
