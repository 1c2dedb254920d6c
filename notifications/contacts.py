"""Security contacts (Microsoft.Security/securityContacts/default): synced from Azure."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from notifications.models import SecurityContact
from portal.hashing import content_hash
from portal.inventory.models import Subscription


def contact_fields(item: dict[str, Any]) -> dict[str, Any]:
    """Both shapes: 2020-01-01-preview (alertNotifications) and 2023-12-01-preview (isEnabled, notificationsSources)."""
    props = item.get("properties") or {}
    by_role = props.get("notificationsByRole") or {}
    alert_notifications = props.get("alertNotifications") or {}
    minimal = alert_notifications.get("minimalSeverity")
    enabled = str(alert_notifications.get("state", "On")).lower() == "on"
    for source in props.get("notificationsSources") or []:
        if isinstance(source, dict) and source.get("sourceType") == "Alert":
            minimal = source.get("minimalSeverity", minimal)
    if "isEnabled" in props:
        enabled = bool(props["isEnabled"])
    return {
        "emails": str(props.get("emails") or ""),
        "phone": str(props.get("phone") or "")[:50],
        "alert_notifications": enabled,
        "minimal_severity": str(minimal or "High")[:20],
        "notify_by_role": str(by_role.get("state", "On")).lower() == "on",
        "roles": [str(r) for r in by_role.get("roles") or []],
    }


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
