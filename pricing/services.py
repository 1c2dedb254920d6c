"""Defender plans: synced from Azure; changes saved as pending and written back by a task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction

from alerts.parsing import content_hash, parse_time
from portal.inventory.models import Subscription
from pricing.models import Pricing


def parse_duration(value: Any) -> timedelta | None:
    """ISO-8601 durations as ARM sends them (PT0S, P29DT23H10M, PT12H30M5.5S)."""
    if not isinstance(value, str) or not value.startswith("P"):
        return None
    import re

    match = re.fullmatch(
        r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?",
        value,
    )
    if not match:
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0)
    )


def pricing_fields(item: dict[str, Any], now: Any) -> dict[str, Any]:
    props = item.get("properties") or {}
    return {
        "tier": "Standard" if str(props.get("pricingTier", "")).lower() == "standard" else "Free",
        "sub_plan": str(props.get("subPlan") or "")[:60],
        "free_trial_remaining": parse_duration(props.get("freeTrialRemainingTime")),
        "free_trial_read_at": now,
        "enablement_time": parse_time(props.get("enablementTime"), "enablementTime"),
        "deprecated": bool(props.get("deprecated")),
        "replaced_by": [str(x) for x in props.get("replacedBy") or []],
        "enforce": str(props.get("enforce") or "")[:10],
        "inherited": str(props.get("inherited") or "")[:10],
        "resources_coverage_status": str(props.get("resourcesCoverageStatus") or "")[:30],
        "extensions": props.get("extensions") or [],
    }


@transaction.atomic
def pricings_sync(*, subscription: Subscription, items: list[dict[str, Any]], now: Any) -> int:
    """Upsert the subscription's plans. A pending change is confirmed when Azure reports it, kept otherwise."""
    existing = {
        p.name.lower(): p for p in Pricing.objects.select_for_update().filter(subscription=subscription)
    }
    changed = 0
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        digest = content_hash(item)
        pricing = existing.get(str(item["name"]).lower())
        if pricing is not None and pricing.content_hash == digest and not pricing.pending_tier:
            continue
        try:
            fields = pricing_fields(item, now)
        except ValueError:
            continue
        fields["content_hash"] = digest
        fields["synced_at"] = now
        if pricing is None:
            Pricing.objects.create(subscription=subscription, name=str(item["name"])[:60], **fields)
        else:
            if (
                pricing.pending_tier
                and fields["tier"] == pricing.pending_tier
                and (not pricing.pending_sub_plan or fields["sub_plan"] == pricing.pending_sub_plan)
            ):
                fields.update(pending_tier="", pending_sub_plan="", pending_since=None, pending_error="")
            for key, value in fields.items():
                setattr(pricing, key, value)
            pricing.save(update_fields=list(fields))
        changed += 1
    return changed
