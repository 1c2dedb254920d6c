"""Alert suppression rules (Microsoft.Security/alertsSuppressionRules): synced from Azure."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from alerts.models import SuppressionRule
from alerts.parsing import content_hash, parse_time
from portal.inventory.models import Subscription


def rule_fields(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties") or {}
    scope = props.get("suppressionAlertsScope") or {}
    state = str(props.get("state") or "Enabled").capitalize()
    return {
        "alert_type": str(props.get("alertType") or "*")[:200],
        "reason": str(props.get("reason") or "")[:100],
        "state": state if state in SuppressionRule.State.values else SuppressionRule.State.DISABLED,
        "comment": str(props.get("comment") or ""),
        "expiration_date": parse_time(props.get("expirationDateUtc"), "expirationDateUtc"),
        "last_modified_utc": parse_time(props.get("lastModifiedUtc"), "lastModifiedUtc"),
        "conditions": [c for c in scope.get("allOf") or [] if isinstance(c, dict)],
    }


@transaction.atomic
def rules_sync(*, subscription: Subscription, items: list[dict[str, Any]], now: Any) -> int:
    existing = {
        r.name.lower(): r
        for r in SuppressionRule.objects.select_for_update().filter(subscription=subscription)
    }
    seen: set[str] = set()
    changed = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"][:50]
        seen.add(name.lower())
        digest = content_hash(item)
        rule = existing.get(name.lower())
        if rule is not None and rule.content_hash == digest and rule.in_azure:
            continue
        try:
            fields = rule_fields(item)
        except ValueError:
            continue
        fields.update(in_azure=True, content_hash=digest, synced_at=now)
        if rule is None:
            SuppressionRule.objects.create(subscription=subscription, name=name, **fields)
        else:
            for key, value in fields.items():
                setattr(rule, key, value)
            rule.save()
        changed += 1
    for key, rule in existing.items():
        if key not in seen and rule.in_azure:
            rule.in_azure = False
            rule.save(update_fields=["in_azure"])
            changed += 1
    return changed
