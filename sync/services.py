"""The sync's one write an analyst makes: "Sync now"."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest

from portal.audit.services import audit_record
from portal.inventory.models import Subscription
from sync.tasks import sync_subscription


def sync_request(
    *, user: User, subscription: Subscription, source: str, request: HttpRequest | None = None
) -> None:
    """Queue a sync of `subscription` now, audited (the caller took it from the selectors with write access).
    `source`: "manual" (the page) or "api"; with the user's name it becomes the run's trigger (30 characters)."""
    sync_subscription.delay(subscription.pk, trigger=f"{source}:{user.get_username()}"[:30])
    audit_record(actor=user, action="sync.requested", obj=subscription, request=request)
