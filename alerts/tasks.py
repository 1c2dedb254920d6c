"""Celery tasks of the alerts app: thin, taking ids, calling services."""

from __future__ import annotations

import random
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from alerts.models import Alert
from alerts.services import alert_status_attempt_failed, alert_status_confirmed
from portal.arm import errors, operations
from portal.celery import backoff, retry_transient
from portal.inventory.azure import config_for

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
def push_alert_status(self, alert_pk: int) -> str:  # type: ignore[no-untyped-def]
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
def run_bulk_status_job(self, job_pk: int) -> str:  # type: ignore[no-untyped-def]
    """One batch per task run, re-queued until done: progress is visible and a crash resumes from last_id."""
    from alerts.services import bulk_status_job_step

    if bulk_status_job_step(job_pk=job_pk):
        run_bulk_status_job.delay(job_pk)
        return "more"
    return "done"


@shared_task(name="alerts.create_sample_alerts")
def create_sample_alerts(subscription_pk: int, user_pk: int | None = None) -> str:
    """Azure's simulate operation for Key Vault sample alerts; then a sync brings them in."""
    from portal.inventory.models import KeyVault, Subscription
    from portal.inventory.tasks import sync_subscription

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
    sync_subscription.delay(subscription.pk, trigger="sample-alerts")
    return "requested"


@shared_task(bind=True, acks_late=True, max_retries=5, name="alerts.push_rule")
def push_rule(self, rule_pk: int) -> str:  # type: ignore[no-untyped-def]
    """Create or update a suppression rule in Azure (PUT, 200 only)."""
    from alerts.models import SuppressionRule
    from alerts.suppression import rule_properties
    from alerts.suppression_services import rule_pushed

    rule = SuppressionRule.objects.select_related("subscription__connection").filter(pk=rule_pk).first()
    if rule is None or rule.local_only:
        return "nothing to push"
    subscription = rule.subscription
    try:
        result = operations.put_suppression_rule(
            config_for(subscription.connection),
            subscription.subscription_id,
            rule.name,
            rule_properties(rule),
        )
    except errors.TRANSIENT as exc:
        retry_transient(self, exc)
        rule_pushed(rule_pk=rule.pk, result=None, error=str(exc))
        return f"failed: {exc}"
    except errors.ArmError as exc:
        rule_pushed(rule_pk=rule.pk, result=None, error=exc.message or str(exc))
        return f"refused: {exc}"
    rule_pushed(rule_pk=rule.pk, result=result)
    return "in step"


@shared_task(bind=True, acks_late=True, max_retries=5, name="alerts.delete_rule_in_azure")
def delete_rule_in_azure(self, subscription_pk: int, name: str, rule_pk: int | None = None) -> str:  # type: ignore[no-untyped-def]
    """DELETE a suppression rule in Azure (204 only). With rule_pk, the local rule stays (it became local-only)."""
    from alerts.models import SuppressionRule
    from portal.inventory.models import Subscription

    subscription = Subscription.objects.select_related("connection").get(pk=subscription_pk)
    try:
        operations.delete_suppression_rule(
            config_for(subscription.connection), subscription.subscription_id, name
        )
    except errors.ArmNotFound:
        pass
    except errors.TRANSIENT as exc:
        retry_transient(self, exc)
        if rule_pk:
            SuppressionRule.objects.filter(pk=rule_pk).update(push_state="failed", push_error=str(exc)[:2000])
        return f"failed: {exc}"
    if rule_pk:
        SuppressionRule.objects.filter(pk=rule_pk).update(in_azure=False, push_state="", push_error="")
    return "deleted"


@shared_task(name="alerts.expire_rules")
def expire_rules() -> int:
    from alerts.suppression_services import expire_rules as expire

    return expire()


@shared_task(bind=True, acks_late=True, max_retries=3, name="alerts.notify_new_alerts")
def notify_new_alerts(self, alert_ids: list[int] | None = None, batch_pk: int | None = None) -> int:  # type: ignore[no-untyped-def]
    """Plan the notifications of new alerts (a batch written by the sync), then send the immediate mails (one SMTP
    connection). The batch is deleted in the planning's transaction: a repeated message plans nothing twice."""
    from django.core.mail import get_connection
    from django.db import transaction

    from alerts.models import NotificationBatch
    from alerts.notifications import plan_notifications, send_alert_mail

    if batch_pk is not None:
        with transaction.atomic():
            batch = NotificationBatch.objects.select_for_update(skip_locked=True).filter(pk=batch_pk).first()
            if batch is None:
                return 0  # planned already (or being planned by another worker)
            to_send = plan_notifications(alert_ids=batch.alert_ids)
            batch.delete()
    else:
        to_send = plan_notifications(alert_ids=alert_ids or [])
    if not to_send:
        return 0
    connection = (
        get_connection()
    )  # opened by the first send: an SMTP outage is a recorded failure, not a crash
    try:
        return sum(send_alert_mail(pk, connection=connection) for pk in to_send)
    finally:
        connection.close()


@shared_task(name="alerts.send_due_notifications")
def send_due_notifications() -> int:
    """Every minute: digests whose window reopened, retries, and mails a dead worker left half-sent."""
    from django.core.mail import get_connection

    from alerts.notifications import send_due

    connection = get_connection()
    try:
        return send_due(connection=connection)
    finally:
        connection.close()


@shared_task(bind=True, acks_late=True, max_retries=5, name="alerts.push_contact")
def push_contact(self, contact_pk: int) -> str:  # type: ignore[no-untyped-def]
    """Write a subscription's security contact back to Azure (PUT securityContacts/default)."""
    from alerts.contact_services import contact_properties
    from alerts.models import SecurityContact
    from alerts.parsing import content_hash

    contact = SecurityContact.objects.select_related("subscription__connection").filter(pk=contact_pk).first()
    if contact is None or not contact.pending_push:
        return "nothing to push"
    subscription = contact.subscription
    try:
        result = operations.put_contact(
            config_for(subscription.connection), subscription.subscription_id, contact_properties(contact)
        )
    except errors.TRANSIENT as exc:
        retry_transient(self, exc)
        SecurityContact.objects.filter(pk=contact.pk).update(push_error=str(exc)[:2000])
        return f"failed: {exc}"
    except errors.ArmError as exc:
        SecurityContact.objects.filter(pk=contact.pk).update(
            pending_push=False, push_error=exc.message or str(exc)
        )
        return f"refused: {exc}"
    SecurityContact.objects.filter(pk=contact.pk).update(
        pending_push=False, push_error="", in_azure=True, content_hash=content_hash(result)
    )
    return "in step"


@shared_task(name="alerts.notify_assignment")
def notify_assignment(alert_pk: int, user_pk: int) -> bool:
    """Email the new assignee (through the notification log, unless their preference is off)."""
    from alerts.notifications import send_assignment_mail

    return send_assignment_mail(alert_pk=alert_pk, user_pk=user_pk)


@shared_task(name="alerts.requeue_stale")
def requeue_stale() -> int:
    """Re-queue write-backs and deliveries whose broker message was lost (see alerts.recovery)."""
    from alerts.recovery import requeue_stale as sweep

    return sweep().total
