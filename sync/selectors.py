"""Reads of the sync's records, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.urls import reverse

from portal.accounts.selectors import scope_to_user
from portal.inventory.models import Subscription
from sync.models import SyncRun


def sync_runs_visible_to(user: Any) -> QuerySet[SyncRun]:
    return scope_to_user(SyncRun.objects.select_related("subscription"), user)


def sync_indicator_for(user: Any) -> dict[str, Any] | None:
    """The chrome's "synced N min ago" indicator over the user's subscriptions (cached for a few seconds)."""
    key = f"sync-indicator:{user.pk}"
    cached = cache.get(key)
    if cached is None:
        cached = _sync_indicator(user)
        cache.set(key, cached, timeout=10)
    return cached


def _sync_indicator(user: Any) -> dict[str, Any] | None:
    subscriptions = scope_to_user(Subscription.objects.all(), user, field="pk")
    figures = subscriptions.aggregate(
        last=Max("last_sync_completed_at"),
        running=Count("sync_runs", filter=Q(sync_runs__status=SyncRun.Status.RUNNING)),
    )
    return {
        "last": figures["last"],
        "running": bool(figures["running"]),
        "url": reverse("sync:sync_status"),
        "failed": False,
    }
