"""Defender plans: synced from Azure; changes saved as pending and written back to Azure by a task."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alerts.parsing import parse_time
from portal import recovery
from portal.accounts.selectors import can_write
from portal.audit.services import audit_record
from portal.hashing import content_hash
from portal.inventory.models import Subscription
from pricing.models import Pricing

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TIERS = {"free": "Free", "standard": "Standard"}
KEY_VAULT_DEFAULT_SUB_PLAN = "PerKeyVault"
_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(value: Any) -> timedelta | None:
    """ISO-8601 durations as ARM sends them (PT0S, P29DT23H10M, PT12H30M5.5S)."""
    if not isinstance(value, str) or not value.startswith("P"):
        return None
    match = _DURATION.fullmatch(value)
    if not match:
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0)
    )


def pricing_fields(item: dict[str, Any], now: Any) -> dict[str, Any]:
    props = item.get("properties") or {}
    return {
        "tier": TIERS.get(str(props.get("pricingTier", "")).lower(), "Free"),
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


def _desired_sub_plan(pricing: Pricing, tier: str) -> str:
    """Key Vault's sub-plan: PerKeyVault by default; a subscription already on legacy PerTransaction keeps it."""
    if pricing.name != "KeyVaults" or tier != "Standard":
        return ""
    if pricing.sub_plan == "PerTransaction" and pricing.tier == "Standard":
        return "PerTransaction"
    return KEY_VAULT_DEFAULT_SUB_PLAN


def plans_save(
    *,
    user: User | None,
    subscription: Subscription,
    desired: dict[str, str],
    request: HttpRequest | None = None,
) -> list[Pricing]:
    """Set plans On (Standard) / Off (Free). Only changed plans are written; returns them (now pending).

    Unknown plans or tiers are refused before anything changes. Deprecated plans cannot be turned on.
    """
    if user is not None and not can_write(user, subscription.pk):
        raise PermissionDenied("Only Security Admins and Owners of this subscription change its plans.")
    normalised: dict[str, str] = {}
    for name, tier in desired.items():
        value = TIERS.get(str(tier).lower())
        if value is None:
            raise ValidationError(f"Unknown pricing tier {tier!r} for {name} (use Standard or Free).")
        normalised[name] = value
    changed: list[Pricing] = []
    with transaction.atomic():
        plans = {p.name: p for p in Pricing.objects.select_for_update().filter(subscription=subscription)}
        unknown = sorted(set(normalised) - set(plans))
        if unknown:
            raise ValidationError(f"Unknown plan(s): {', '.join(unknown)}.")
        for name, tier in normalised.items():
            pricing = plans[name]
            current = pricing.pending_tier or pricing.tier
            if current == tier:
                continue  # unchanged (also a double submit)
            if tier == "Standard" and pricing.deprecated:
                raise ValidationError(
                    f"{name} is deprecated and can't be turned on"
                    f"{'; use ' + ', '.join(pricing.replaced_by) if pricing.replaced_by else ''}."
                )
            before = {"tier": pricing.tier, "sub_plan": pricing.sub_plan, "pending": pricing.pending_tier}
            pricing.pending_tier = tier
            pricing.pending_sub_plan = _desired_sub_plan(pricing, tier)
            pricing.pending_since = timezone.now()
            pricing.pending_error = ""
            pricing.save(update_fields=["pending_tier", "pending_sub_plan", "pending_since", "pending_error"])
            audit_record(
                actor=user,
                action="plan.set_tier",
                obj=pricing,
                before=before,
                after={"tier": tier, "sub_plan": pricing.pending_sub_plan},
                request=request,
                subscription=subscription,
            )
            changed.append(pricing)
        from pricing.tasks import push_pricing

        for pricing in changed:
            transaction.on_commit(partial(push_pricing.delay, pricing.pk))
    return changed


def pricing_push_result(
    *, pricing_pk: int, tier: str, result: dict[str, Any] | None = None, error: str = ""
) -> None:
    """Azure's answer to a plan change: confirmed (store what Azure returned) or refused (shown on the row)."""
    now = timezone.now()
    with transaction.atomic():
        pricing = Pricing.objects.select_for_update().select_related("subscription").get(pk=pricing_pk)
        if pricing.pending_tier != tier:
            return  # superseded by a newer change
        if result is not None:
            for key, value in pricing_fields(result, now).items():
                setattr(pricing, key, value)
            pricing.pending_tier = pricing.pending_sub_plan = pricing.pending_error = pricing.last_error = ""
            pricing.pending_since = None
            pricing.save()
            audit_record(
                actor=None,
                action="plan.confirmed",
                obj=pricing,
                after={"tier": pricing.tier, "sub_plan": pricing.sub_plan},
                subscription=pricing.subscription,
            )
        else:
            pricing.pending_tier = pricing.pending_sub_plan = ""
            pricing.pending_since = None
            pricing.last_error = error[:2000]
            pricing.save(update_fields=["pending_tier", "pending_sub_plan", "pending_since", "last_error"])
            audit_record(
                actor=None,
                action="plan.refused",
                obj=pricing,
                after={"tier": tier, "error": error[:500]},
                subscription=pricing.subscription,
            )


def pricing_push_attempt_failed(*, pricing_pk: int, error: str) -> None:
    """The write-back's result: a transient failure, retried by the task; shown on the plan meanwhile."""
    Pricing.objects.filter(pk=pricing_pk).update(pending_error=error[:2000])


def requeue_stale_pushes(now: datetime, cutoff: datetime) -> int:
    """The plans' step of the stale-work sweep (portal.recovery): a plan change pending since before `cutoff` whose
    message was lost is queued again."""
    from pricing.tasks import push_pricing  # the tasks import these services

    return recovery.requeue(
        Pricing.objects.filter(pending_since__lt=cutoff).exclude(pending_tier=""),
        push_pricing.delay,
        pending_since=now,
    )
