"""Notification tasks: thin, taking ids. The task names are those they had in the alerts app (queued messages
still run; listed as legacy names in tests/test_layers.py)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.core.mail import get_connection

from notifications.contact_services import contact_properties, contact_pushed
from notifications.models import SecurityContact
from notifications.services import (
    plan_batch,
    plan_notifications,
    send_alert_mail,
    send_assignment_mail,
    send_due,
)
from portal.arm import errors, operations
from portal.celery import retry_transient
from portal.inventory.azure import config_for


# Bound tasks' `self: Task[Any, R]`: the task's parameters are the function's own (names and defaults kept).
@shared_task(bind=True, acks_late=True, max_retries=3, name="alerts.notify_new_alerts")
def notify_new_alerts(
    self: Task[Any, int], alert_ids: list[int] | None = None, batch_pk: int | None = None
) -> int:
    """Plan the notifications of new alerts (a batch written by the sync), then send the immediate mails (one SMTP
    connection). The batch is deleted in the planning's transaction: a repeated message plans nothing twice."""

    if batch_pk is not None:
        to_send = plan_batch(batch_pk=batch_pk)
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

    connection = get_connection()
    try:
        return send_due(connection=connection)
    finally:
        connection.close()


@shared_task(bind=True, acks_late=True, max_retries=5, name="alerts.push_contact")
def push_contact(self: Task[Any, str], contact_pk: int) -> str:
    """Write a subscription's security contact back to Azure (PUT securityContacts/default)."""

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
        contact_pushed(contact_pk=contact.pk, error=str(exc))
        return f"failed: {exc}"
    except errors.ArmError as exc:
        contact_pushed(contact_pk=contact.pk, error=exc.message or str(exc), final=True)
        return f"refused: {exc}"
    contact_pushed(contact_pk=contact.pk, result=result)
    return "in step"


@shared_task(name="alerts.notify_assignment")
def notify_assignment(alert_pk: int, user_pk: int) -> bool:
    """Email the new assignee (through the notification log, unless their preference is off)."""

    return send_assignment_mail(alert_pk=alert_pk, user_pk=user_pk)
