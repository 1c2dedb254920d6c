"""Security contacts (Microsoft.Security/securityContacts/default): synced from Azure."""

from __future__ import annotations

from typing import Any


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
