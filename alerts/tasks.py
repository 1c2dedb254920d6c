"""Celery tasks of the alerts app: thin, taking ids, calling services."""

from __future__ import annotations

import random
import time

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from alerts.models import Alert
from alerts.status import alert_status_attempt_failed, alert_status_confirmed
from portal.arm import errors, operations
from portal.celery import backoff
from portal.inventory import hooks as inventory_hooks
from portal.inventory.azure import config_for
from portal.inventory.models import KeyVault, Subscription

MAX_PUSH_RETRIES = 6


def write_slot_available(subscription_pk: int) -> bool:
    """Per-subscription write budget (ARM allows about 10 writes/s): a fixed one-second window in the cache."""
    key = f"arm-writes:{subscription_pk}:{int(time.time())}"
    cache.add(key, 0, timeout=5)
    try:
        used = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=5)
        used = 1
    return used <= settings.ARM_WRITES_PER_SECOND


@shared_task(bind=True, acks_late=True, max_retries=None, name="alerts.push_alert_status")
def push_alert_status(self: Task[[int], str], alert_pk: int) -> str:
    """Write an alert's pending status back to Azure. Safe to repeat (the state POST is idempotent)."""
    alert = Alert.objects.select_related("subscription__connection").filter(pk=alert_pk).first()
    if alert is None or not alert.pending_status:
        return "nothing pending"
    status = alert.pending_status
    if not write_slot_available(alert.subscription_id):
        raise self.retry(countdown=1 + random.uniform(0, 0.5))
    try:
        operations.set_alert_state(config_for(alert.subscription.connection), alert.azure_id, status)
    except errors.TRANSIENT as exc:
        attempts = alert.pending_attempts + 1
        final = attempts > MAX_PUSH_RETRIES
        alert_status_attempt_failed(alert_pk=alert.pk, status=status, error=str(exc), final=final)
        if final:
            return f"failed: {exc}"
        raise self.retry(countdown=backoff(attempts, getattr(exc, "retry_after", None))) from exc
    except errors.ArmError as exc:
        alert_status_attempt_failed(alert_pk=alert.pk, status=status, error=str(exc), final=True)
        return f"failed: {exc}"
    alert_status_confirmed(alert_pk=alert.pk, status=status)
    return f"confirmed {status}"


@shared_task(bind=True, acks_late=True, max_retries=20, name="alerts.run_bulk_status_job")
def run_bulk_status_job(self: Task[[int], str], job_pk: int) -> str:
    """One batch per task run, re-queued until done: progress is visible and a crash resumes from last_id."""
    from alerts.services import bulk_status_job_step

    if bulk_status_job_step(job_pk=job_pk):
        run_bulk_status_job.delay(job_pk)
        return "more"
    return "done"


@shared_task(name="alerts.create_sample_alerts")
def create_sample_alerts(subscription_pk: int, user_pk: int | None = None) -> str:
    """Azure's simulate operation for Key Vault sample alerts; then a sync brings them in."""
    subscription = Subscription.objects.select_related("connection").get(pk=subscription_pk)
    location = (
        KeyVault.objects.filter(subscription=subscription).values_list("location", flat=True).first()
        or "centralus"
    )
    try:
        operations.simulate_alerts(
            config_for(subscription.connection), subscription.subscription_id, location, ["KeyVaults"]
        )
    except errors.ArmError as exc:
        return f"failed: {exc}"
    inventory_hooks.request_sync(subscription.pk, "sample-alerts")
    return "requested"
