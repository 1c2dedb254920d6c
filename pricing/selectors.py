"""Reads of Defender plans."""

from __future__ import annotations

from typing import Any

from pricing.models import Pricing


def coverage_by_subscription(subscriptions: list[Any]) -> list[dict[str, Any]]:
    """Per subscription: how many plans are on, and the Key Vault plan's state (one query)."""
    by_sub: dict[int, list[Pricing]] = {}
    for p in Pricing.objects.filter(subscription__in=subscriptions):
        by_sub.setdefault(p.subscription_id, []).append(p)
    result = []
    for sub in subscriptions:
        plans = [p for p in by_sub.get(sub.pk, []) if not p.deprecated]
        kv = next((p for p in plans if p.name == "KeyVaults"), None)
        result.append(
            {
                "subscription": sub,
                "on": sum(1 for p in plans if p.is_on),
                "total": len(plans),
                "key_vault": kv,
                "last_sync": sub.last_sync_completed_at,
            }
        )
    return result
