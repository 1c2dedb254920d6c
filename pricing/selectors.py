"""Reads of Defender plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from portal.inventory.models import KeyVault, Subscription
from pricing.models import Pricing
from pricing.plans import BY_NAME, PLANS


def trial_left(pricing: Pricing) -> timedelta | None:
    """Trial time left now: what Azure reported, minus the time since it was read. None when none is running."""
    if pricing.free_trial_remaining is None or pricing.free_trial_remaining <= timedelta(0):
        return None
    if pricing.tier != Pricing.Tier.STANDARD:
        return None
    elapsed = timezone.now() - pricing.free_trial_read_at if pricing.free_trial_read_at else timedelta(0)
    left = pricing.free_trial_remaining - elapsed
    return left if left > timedelta(0) else None


def trial_available(pricing: Pricing | None) -> bool:
    """Azure still offers the 30-day trial: the plan is off and reports trial time left (never used)."""
    return bool(
        pricing is not None
        and pricing.tier == Pricing.Tier.FREE
        and pricing.free_trial_remaining
        and pricing.free_trial_remaining > timedelta(0)
    )


@dataclass
class PlanRow:
    pricing: Pricing
    label: str
    resource: str
    quantity: int | None
    trial_left: timedelta | None

    @property
    def trial_days(self) -> int | None:
        return None if self.trial_left is None else max(1, round(self.trial_left / timedelta(days=1)))


def plan_rows(subscription: Subscription) -> list[PlanRow]:
    """The Defender plans table, in the portal's order."""
    pricings = {p.name: p for p in Pricing.objects.filter(subscription=subscription)}
    vaults = KeyVault.objects.filter(subscription=subscription, in_azure=True).count()
    order = [p.name for p in PLANS]
    rows = []
    for name in sorted(pricings, key=lambda n: (order.index(n) if n in order else len(order), n)):
        pricing = pricings[name]
        plan = BY_NAME.get(name.lower())
        rows.append(
            PlanRow(
                pricing=pricing,
                label=plan.label if plan else name,
                resource=plan.resource if plan else "",
                quantity=vaults if name == "KeyVaults" else None,
                trial_left=trial_left(pricing),
            )
        )
    return rows


def coverage_by_subscription(subscriptions: list[Any]) -> list[dict[str, Any]]:
    """Per subscription: how many plans are on, and the Key Vault plan's state (one query)."""
    by_sub: dict[int, list[Pricing]] = {}
    for p in Pricing.objects.filter(subscription__in=subscriptions):
        by_sub.setdefault(p.subscription_id, []).append(p)
    result = []
    for sub in subscriptions:
        plans = [p for p in by_sub.get(sub.pk, []) if not p.deprecated]
        kv = next((p for p in plans if p.name == "KeyVaults"), None)
        trials = [t for t in (trial_left(p) for p in plans) if t]
        result.append(
            {
                "subscription": sub,
                "on": sum(1 for p in plans if p.is_on),
                "total": len(plans),
                "key_vault": kv,
                "key_vault_trial_days": (
                    round(trial_left(kv) / timedelta(days=1)) if kv and trial_left(kv) else None
                ),
                "trials": len(trials),
                "last_sync": sub.last_sync_completed_at,
            }
        )
    return result


def key_vault_plan(subscription_pk: int) -> Pricing | None:
    return Pricing.objects.filter(subscription_id=subscription_pk, name="KeyVaults").first()
