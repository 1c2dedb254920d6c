"""Work stranded by a lost broker message is queued again by the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.status import alert_set_status
from portal.recovery import requeue_stale
from portal.testing.factories import alert_item, make_alerts
from pricing.models import Pricing
from triage.models import WebhookDelivery
from triage.webhooks import webhook_save, webhook_test

pytestmark = pytest.mark.django_db


def test_stale_pending_work_is_queued_again_once(personas, settings, django_capture_on_commit_callbacks):
    settings.STALE_PUSH_SECONDS = 60
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, n=i) for i in (1, 2, 3)])
    with django_capture_on_commit_callbacks(execute=False):
        for alert in alerts:
            alert_set_status(user=personas.secadmin, alert=alert, status="InProgress")
        hook, _ = webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="h",
            url="https://h.example.com",
            events=["alert.created"],
        )
        delivery = webhook_test(user=personas.secadmin, webhook=hook)
    old = timezone.now() - timedelta(minutes=10)
    Alert.objects.filter(pk__in=[alerts[0].pk, alerts[1].pk]).update(
        pending_since=old
    )  # its message was lost
    Alert.objects.filter(pk=alerts[1].pk).update(pending_failed=True)  # visibly failed: left alone
    plan = Pricing.objects.create(
        subscription=personas.sub, name="KeyVaults", tier="Free", pending_tier="Standard", pending_since=old
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=old, touched_at=old)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = requeue_stale()
    assert (result.statuses, result.plans, result.deliveries) == (1, 1, 1)
    assert len(callbacks) == 3
    assert (
        Alert.objects.get(pk=alerts[0].pk).pending_since > old
        and Pricing.objects.get(pk=plan.pk).pending_since > old
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = requeue_stale()
    assert (again.statuses, again.plans, again.deliveries) == (0, 0, 0)  # not twice in a row


def test_a_webhook_retry_whose_countdown_message_was_lost_is_sent_again(
    personas, settings, django_capture_on_commit_callbacks
):
    from triage.tasks import MAX_BACKOFF_SECONDS

    settings.STALE_PUSH_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=False):
        hook, _ = webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="h",
            url="https://h.example.com",
            events=["alert.created"],
        )
        retried, waiting = (webhook_test(user=personas.secadmin, webhook=hook) for _ in range(2))
    now = timezone.now()
    long_ago = now - timedelta(seconds=60 + MAX_BACKOFF_SECONDS + 5)
    # both failed once; one's retry is still within its longest backoff, the other's message is gone
    WebhookDelivery.objects.filter(pk=retried.pk).update(attempts=1, touched_at=long_ago, created_at=long_ago)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(
        attempts=1, touched_at=now - timedelta(seconds=MAX_BACKOFF_SECONDS), created_at=long_ago
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert requeue_stale().deliveries == 1
    assert len(callbacks) == 1
    assert WebhookDelivery.objects.get(pk=retried.pk).touched_at > long_ago
    with django_capture_on_commit_callbacks(execute=False):
        assert requeue_stale().deliveries == 0  # queued once, not at every sweep

    # a worker killed mid-POST left its claim ("sending"): pending again and queued, once
    WebhookDelivery.objects.filter(pk=waiting.pk).update(
        state="sending", touched_at=now - timedelta(seconds=61)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert requeue_stale().deliveries == 1
    assert len(callbacks) == 1 and WebhookDelivery.objects.get(pk=waiting.pk).state == "pending"
    with django_capture_on_commit_callbacks(execute=False):
        assert requeue_stale().deliveries == 0


def test_a_lost_notification_planning_task_is_found_again(
    personas, settings, django_capture_on_commit_callbacks
):
    from notifications.models import NotificationBatch
    from notifications.services import queue_new_alert_notifications
    from notifications.tasks import notify_new_alerts

    settings.STALE_PUSH_SECONDS = 60
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, n=7)])
    with django_capture_on_commit_callbacks(execute=False) as lost:
        queue_new_alert_notifications(alert_ids=[alerts[0].pk], subscription_pk=personas.sub.pk)
    assert len(lost) == 1 and NotificationBatch.objects.count() == 1  # written with the sync's page
    NotificationBatch.objects.update(
        created_at=timezone.now() - timedelta(minutes=5)
    )  # its message never ran
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert requeue_stale().notification_batches == 1
    assert len(callbacks) == 1
    batch = NotificationBatch.objects.get()
    assert (
        notify_new_alerts.apply(kwargs={"batch_pk": batch.pk}).get() == 0
    )  # no recipient here: planned, empty
    assert not NotificationBatch.objects.exists()
    assert (
        notify_new_alerts.apply(kwargs={"batch_pk": batch.pk}).get() == 0
    )  # a repeated message: nothing twice
