"""Email notification settings per subscription: the security contact, edited here and pushed back to Azure."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest

from notifications.contacts import contact_fields
from notifications.models import Notification, NotificationPreference, SecurityContact
from portal.accounts.selectors import can_write
from portal.audit.services import audit_record
from portal.hashing import content_hash
from portal.inventory.models import Subscription

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ROLES = ["Owner", "Contributor", "ServiceAdmin", "AccountAdmin"]
SEVERITIES = ["High", "Medium", "Low"]
FIELDS = (
    "emails",
    "notify_by_role",
    "roles",
    "minimal_severity",
    "alert_notifications",
    "portal_notifications",
)


def parse_emails(raw: str) -> list[str]:
    """Comma-, semicolon- or space-separated addresses; every one must be valid."""
    emails = [e.strip() for e in re.split(r"[,;\s]+", raw or "") if e.strip()]
    bad = []
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            bad.append(email)
    if bad:
        raise ValidationError({"emails": f"Not an email address: {', '.join(bad[:5])}."})
    return list(dict.fromkeys(emails))


def contact_save(
    *, user: User | None, subscription: Subscription, data: dict[str, Any], request: HttpRequest | None = None
) -> SecurityContact:
    """Save the settings here and push them to Azure (securityContacts/default, by a task)."""
    if user is not None and not can_write(user, subscription.pk):
        raise PermissionDenied("Only Security Admins and Owners change email notification settings.")
    emails = parse_emails(data.get("emails", ""))
    roles = [r for r in data.get("roles") or [] if r in ROLES]
    if set(data.get("roles") or []) - set(ROLES):
        raise ValidationError({"roles": "Unknown role."})
    if data.get("minimal_severity") not in SEVERITIES:
        raise ValidationError({"minimal_severity": "Choose High, Medium or Low."})
    values = {
        "emails": ";".join(emails),
        "notify_by_role": bool(data.get("notify_by_role")),
        "roles": roles,
        "minimal_severity": data["minimal_severity"],
        "alert_notifications": bool(data.get("alert_notifications")),
        "portal_notifications": bool(data.get("portal_notifications")),
    }
    with transaction.atomic():
        contact, _ = SecurityContact.objects.select_for_update().get_or_create(subscription=subscription)
        before = {f: getattr(contact, f) for f in FIELDS}
        if before == values:
            return contact
        azure_changed = any(before[f] != values[f] for f in FIELDS if f != "portal_notifications")
        for key, value in values.items():
            setattr(contact, key, value)
        contact.pending_push = azure_changed or contact.pending_push
        contact.push_error = ""
        contact.save()
        audit_record(
            actor=user,
            action="contact.update",
            obj=contact,
            before=before,
            after=values,
            request=request,
            subscription=subscription,
        )
        if azure_changed:
            from notifications.tasks import push_contact

            pk = contact.pk
            transaction.on_commit(lambda: push_contact.delay(pk))
    return contact


def contact_properties(contact: SecurityContact) -> dict[str, Any]:
    """The 2020-01-01-preview shape that Azure keeps."""
    return {
        "emails": contact.emails,
        "phone": contact.phone,
        "alertNotifications": {
            "state": "On" if contact.alert_notifications else "Off",
            "minimalSeverity": contact.minimal_severity,
        },
        "notificationsByRole": {"state": "On" if contact.notify_by_role else "Off", "roles": contact.roles},
    }


def preference_save(*, user: User, mode: str, minimal_severity: str) -> NotificationPreference:
    if mode not in NotificationPreference.Mode.values:
        raise ValidationError({"mode": "Unknown delivery."})
    if minimal_severity not in SEVERITIES:
        raise ValidationError({"minimal_severity": "Choose High, Medium or Low."})
    pref, _ = NotificationPreference.objects.get_or_create(user=user)
    if (pref.mode, pref.minimal_severity) != (mode, minimal_severity):
        before = {"mode": pref.mode, "minimal_severity": pref.minimal_severity}
        pref.mode, pref.minimal_severity = mode, minimal_severity
        pref.save(update_fields=["mode", "minimal_severity"])
        audit_record(
            actor=user,
            action="preference.notifications",
            obj=pref,
            before=before,
            after={"mode": mode, "minimal_severity": minimal_severity},
        )
    return pref


def notification_retry(*, user: User, notification: Notification, request: HttpRequest | None = None) -> None:
    """Delivery log → Retry: a failed mail is queued again (same Message-ID)."""
    from django.utils import timezone

    if not can_write(user, notification.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners retry deliveries.")
    Notification.objects.filter(pk=notification.pk, state=Notification.State.FAILED).update(
        state=Notification.State.QUEUED, attempts=0, due_at=timezone.now(), error=""
    )
    audit_record(
        actor=user,
        action="notification.retry",
        obj=notification,
        request=request,
        subscription=notification.subscription_id,
    )


@transaction.atomic
def contacts_sync(*, subscription: Subscription, items: list[dict[str, Any]], now: Any) -> bool:
    """Keep the subscription's `default` contact in step with Azure. Returns whether anything changed."""
    item = next(
        (i for i in items if isinstance(i, dict) and str(i.get("name", "")).lower() == "default"), None
    )
    if item is None and items:
        item = items[0] if isinstance(items[0], dict) else None
    contact = SecurityContact.objects.select_for_update().filter(subscription=subscription).first()
    if item is None:
        if contact is not None and contact.in_azure:
            contact.in_azure = False
            contact.save(update_fields=["in_azure"])
            return True
        return False
    digest = content_hash(item)
    if contact is not None and contact.content_hash == digest and contact.in_azure:
        return False
    fields = {**contact_fields(item), "in_azure": True, "content_hash": digest, "synced_at": now}
    if contact is not None and contact.pending_push:
        # A change made here is still being written to Azure: never reverted by a sync; confirmed when Azure has it.
        azure = contact_fields(item)
        if all(getattr(contact, k) == v for k, v in azure.items() if k != "phone"):
            contact.pending_push = False
            contact.save(update_fields=["pending_push"])
        return False
    if contact is None:
        SecurityContact.objects.create(subscription=subscription, **fields)
    else:
        for key, value in fields.items():
            setattr(contact, key, value)
        contact.save(update_fields=list(fields))
    return True


def contact_pushed(
    *, contact_pk: int, result: dict[str, Any] | None = None, error: str = "", final: bool = False
) -> None:
    """The write-back's result for a PUT: in step with what Azure answered; a transient failure (retried, shown);
    refused (shown, no longer pending)."""
    if result is not None:
        SecurityContact.objects.filter(pk=contact_pk).update(
            pending_push=False, push_error="", in_azure=True, content_hash=content_hash(result)
        )
    elif final:
        SecurityContact.objects.filter(pk=contact_pk).update(pending_push=False, push_error=error[:2000])
    else:
        SecurityContact.objects.filter(pk=contact_pk).update(push_error=error[:2000])
