"""Reads of Defender plans."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.utils import timezone

from portal.accounts.selectors import get_for_user
from portal.inventory.models import KeyVault, Subscription
from portal.plans import BY_NAME, PLANS
from pricing.models import Pricing

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def trial_left(pricing: Pricing) -> timedelta | None:
    """Trial time left now: what Azure reported, minus the time since it was read. None when none is running."""
    if pricing.free_trial_remaining is None or pricing.free_trial_remaining <= timedelta(0):
        return None
    if pricing.tier != Pricing.Tier.STANDARD:
        return None
    elapsed = timezone.now() - pricing.free_trial_read_at if pricing.free_trial_read_at else timedelta(0)
    left = pricing.free_trial_remaining - elapsed
    return left if left > timedelta(0) else None


def trial_days(left: timedelta | None) -> int | None:
    """Whole days of trial left, rounded up: right after an upgrade 29 days and 23 hours is "30 days left"."""
    return None if left is None else max(1, math.ceil(left / timedelta(days=1)))


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
        return trial_days(self.trial_left)


def plan_row(pricing: Pricing, *, vaults: int | None = None) -> PlanRow:
    plan = BY_NAME.get(pricing.name.lower())
    if pricing.name == "KeyVaults" and vaults is None:
        vaults = KeyVault.objects.filter(subscription_id=pricing.subscription_id, in_azure=True).count()
    return PlanRow(
        pricing=pricing,
        label=plan.label if plan else pricing.name,
        resource=plan.resource if plan else "",
        quantity=vaults if pricing.name == "KeyVaults" else None,
        trial_left=trial_left(pricing),
    )


def plan_rows(subscription: Subscription) -> list[PlanRow]:
    """The Defender plans table, in the portal's order."""
    pricings = {p.name: p for p in Pricing.objects.filter(subscription=subscription)}
    vaults = KeyVault.objects.filter(subscription=subscription, in_azure=True).count()
    order = [p.name for p in PLANS]
    names = sorted(pricings, key=lambda n: (order.index(n) if n in order else len(order), n))
    return [plan_row(pricings[name], vaults=vaults) for name in names]


def pricing_get_for_user(user: User, pk: int) -> Pricing:
    return get_for_user(Pricing.objects.select_related("subscription"), user, pk=pk)


class Coverage(TypedDict):
    """A subscription's row of the plans' coverage (the Overview's panel, Pricing & settings)."""

    subscription: Subscription
    on: int
    total: int
    key_vault: Pricing | None
    key_vault_trial_days: int | None
    trials: int
    last_sync: datetime | None


def coverage_by_subscription(subscriptions: list[Subscription]) -> list[Coverage]:
    """Per subscription: how many plans are on, and the Key Vault plan's state (one query)."""
    by_sub: dict[int, list[Pricing]] = {}
    for p in Pricing.objects.filter(subscription__in=subscriptions):
        by_sub.setdefault(p.subscription_id, []).append(p)
    result: list[Coverage] = []
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
                "key_vault_trial_days": trial_days(trial_left(kv)) if kv else None,
                "trials": len(trials),
                "last_sync": sub.last_sync_completed_at,
            }
        )
    return result


def key_vault_plan(subscription_pk: int) -> Pricing | None:
    return Pricing.objects.filter(subscription_id=subscription_pk, name="KeyVaults").first()
