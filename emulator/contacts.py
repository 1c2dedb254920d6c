"""Security contacts: one canonical model per subscription, rendered in three api-version shapes.

- 2017-08-01-preview: `email`, `phone`, `alertNotifications` "On"/"Off", `alertsToAdmins`.
- 2020-01-01-preview (the SDK default): `emails` (`;`-separated), `phone`, `alertNotifications{state,
  minimalSeverity}`, `notificationsByRole{state, roles}`.
- 2023-12-01-preview (not in the SDK): `isEnabled`, `notificationsSources[]`, `notificationsByRole`,
  `emails`, `phone`; the examples type it `Microsoft.Security/securityContact` (singular).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .util import ArmRefusal, api_version_at_least

SEVERITIES = {"high": "High", "medium": "Medium", "low": "Low"}
RISK_LEVELS = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}
ROLES = {
    "accountadmin": "AccountAdmin",
    "serviceadmin": "ServiceAdmin",
    "owner": "Owner",
    "contributor": "Contributor",
}
ON_OFF = {"on": "On", "off": "Off"}


class ContactError(ArmRefusal):
    pass


@dataclass
class Contact:
    emails: list[str] = field(default_factory=list)
    phone: str = ""
    is_enabled: bool = True
    alert_notifications: bool = True
    minimal_severity: str = "Medium"
    roles_on: bool = True
    roles: list[str] = field(default_factory=lambda: ["Owner"])
    attack_path_risk: str | None = None
    alerts_to_admins: bool = True


def shape_of(api_version: str | None) -> str:
    if api_version_at_least(api_version, "2023-01-01"):
        return "2023"
    if api_version_at_least(api_version, "2020-01-01"):
        return "2020"
    return "2017" if api_version else "2020"


def _etag(contact: Contact) -> str:
    digest = hashlib.sha256(repr(sorted(vars(contact).items())).encode()).hexdigest()
    return f'"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"'


def render(contact: Contact, subscription_id: str, api_version: str | None) -> dict[str, Any]:
    shape = shape_of(api_version)
    base_id = f"/subscriptions/{subscription_id}/providers/Microsoft.Security/securityContacts/default"
    if shape == "2017":
        return {
            "id": base_id,
            "name": "default",
            "type": "Microsoft.Security/securityContacts",
            "properties": {
                "email": ";".join(contact.emails),
                "phone": contact.phone,
                "alertNotifications": "On" if contact.is_enabled and contact.alert_notifications else "Off",
                "alertsToAdmins": "On" if contact.alerts_to_admins else "Off",
            },
        }
    by_role = {"state": "On" if contact.roles_on else "Off", "roles": list(contact.roles)}
    if shape == "2020":
        return {
            "id": base_id,
            "name": "default",
            "type": "Microsoft.Security/securityContacts",
            "etag": _etag(contact),
            "location": "West Europe",
            "properties": {
                "notificationsByRole": by_role,
                "emails": ";".join(contact.emails),
                "phone": contact.phone,
                "alertNotifications": {
                    "state": "On" if contact.is_enabled and contact.alert_notifications else "Off",
                    "minimalSeverity": contact.minimal_severity,
                },
            },
        }
    sources: list[dict[str, str]] = []
    if contact.attack_path_risk:
        sources.append({"sourceType": "AttackPath", "minimalRiskLevel": contact.attack_path_risk})
    if contact.alert_notifications:
        sources.append({"sourceType": "Alert", "minimalSeverity": contact.minimal_severity})
    return {
        "id": base_id,
        "name": "default",
        "type": "Microsoft.Security/securityContact",
        "properties": {
            "notificationsByRole": by_role,
            "isEnabled": contact.is_enabled,
            "emails": ";".join(contact.emails),
            "phone": contact.phone,
            "notificationsSources": sources,
        },
    }


def _enum(value: Any, allowed: dict[str, str], what: str) -> str:
    if isinstance(value, str) and value.strip().lower() in allowed:
        return allowed[value.strip().lower()]
    raise ContactError(
        400,
        "InvalidInputError",
        f"'{value}' is not a valid {what}; use one of {', '.join(allowed.values())}.",
    )


def _emails(value: Any) -> list[str]:
    if value is None:
        return []
    parts = value if isinstance(value, list) else str(value).replace(",", ";").split(";")
    out = [str(p).strip() for p in parts if str(p).strip()]
    for email in out:
        if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
            raise ContactError(400, "InvalidInputError", f"'{email}' is not a valid email address.")
    return out


def _roles(by_role: Any, contact: Contact) -> None:
    if by_role is None:
        return
    if not isinstance(by_role, dict):
        raise ContactError(400, "InvalidInputError", "'notificationsByRole' must be an object.")
    if "state" in by_role:
        contact.roles_on = _enum(by_role["state"], ON_OFF, "notificationsByRole.state") == "On"
    if "roles" in by_role:
        roles = by_role["roles"]
        if not isinstance(roles, list):
            raise ContactError(400, "InvalidInputError", "'notificationsByRole.roles' must be a list.")
        contact.roles = [_enum(r, ROLES, "role") for r in roles]


def parse(body: Any, api_version: str | None, current: Contact | None) -> Contact:
    """A PUT body in the shape of `api_version` -> the canonical model (unspecified fields keep their value)."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise ContactError(
            400, "InvalidRequestContent", "The request content was invalid: 'properties' is required."
        )
    props = body["properties"]
    base = current or Contact()
    contact = Contact(
        emails=list(base.emails),
        phone=base.phone,
        is_enabled=base.is_enabled,
        alert_notifications=base.alert_notifications,
        minimal_severity=base.minimal_severity,
        roles_on=base.roles_on,
        roles=list(base.roles),
        attack_path_risk=base.attack_path_risk,
        alerts_to_admins=base.alerts_to_admins,
    )
    shape = shape_of(api_version)
    if "phone" in props:
        contact.phone = str(props["phone"] or "")
    if shape == "2017":
        if "email" in props:
            contact.emails = _emails(props["email"])
        if "alertNotifications" in props:
            contact.alert_notifications = (
                _enum(props["alertNotifications"], ON_OFF, "alertNotifications") == "On"
            )
            contact.is_enabled = True
        if "alertsToAdmins" in props:
            contact.alerts_to_admins = _enum(props["alertsToAdmins"], ON_OFF, "alertsToAdmins") == "On"
        return contact
    if "emails" in props:
        contact.emails = _emails(props["emails"])
    _roles(props.get("notificationsByRole"), contact)
    if shape == "2020":
        notif = props.get("alertNotifications")
        if notif is not None:
            if not isinstance(notif, dict):
                raise ContactError(400, "InvalidInputError", "'alertNotifications' must be an object.")
            if "state" in notif:
                contact.alert_notifications = (
                    _enum(notif["state"], ON_OFF, "alertNotifications.state") == "On"
                )
                contact.is_enabled = True
            if "minimalSeverity" in notif:
                contact.minimal_severity = _enum(notif["minimalSeverity"], SEVERITIES, "minimalSeverity")
        return contact
    if "isEnabled" in props:
        if not isinstance(props["isEnabled"], bool):
            raise ContactError(400, "InvalidInputError", "'isEnabled' must be a boolean.")
        contact.is_enabled = props["isEnabled"]
    if "notificationsSources" in props:
        sources = props["notificationsSources"]
        if not isinstance(sources, list):
            raise ContactError(400, "InvalidInputError", "'notificationsSources' must be a list.")
        contact.alert_notifications = False
        contact.attack_path_risk = None
        for src in sources:
            if not isinstance(src, dict):
                raise ContactError(400, "InvalidInputError", "Each notifications source must be an object.")
            kind = str(src.get("sourceType", "")).lower()
            if kind == "alert":
                contact.alert_notifications = True
                contact.minimal_severity = _enum(src.get("minimalSeverity"), SEVERITIES, "minimalSeverity")
            elif kind == "attackpath":
                contact.attack_path_risk = _enum(src.get("minimalRiskLevel"), RISK_LEVELS, "minimalRiskLevel")
            else:
                raise ContactError(
                    400,
                    "InvalidInputError",
                    f"'{src.get('sourceType')}' is not a valid sourceType (Alert, AttackPath).",
                )
    return contact
