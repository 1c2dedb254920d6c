"""Reads of the sync's records, scoped to what the user may see."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.urls import reverse

from portal.accounts.selectors import scope_to_user
from portal.inventory.models import Subscription
from sync.models import SyncRun


class SyncIndicator(TypedDict):
    last: datetime | None  # the newest completed sync of the user's subscriptions
    running: bool
    url: str
    failed: bool


def sync_runs_visible_to(user: User) -> QuerySet[SyncRun]:
    return scope_to_user(SyncRun.objects.select_related("subscription"), user)


def sync_indicator_for(user: User) -> SyncIndicator:
    """The chrome's "synced N min ago" indicator over the user's subscriptions (cached for a few seconds)."""
    key = f"sync-indicator:{user.pk}"
    cached: SyncIndicator | None = cache.get(key)  # what the line below stored
    if cached is None:
        cached = _sync_indicator(user)
        cache.set(key, cached, timeout=10)
    return cached


def _sync_indicator(user: User) -> SyncIndicator:
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
