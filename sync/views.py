"""The Sync status page: every run the user may see, and "Sync now" for Security Admins and Owners."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.accounts import selectors as access
from portal.web.http import AuthedRequest
from sync.selectors import sync_runs_visible_to
from sync.services import sync_request


@login_required
@require_GET
def sync_status(request: AuthedRequest) -> HttpResponse:
    runs = sync_runs_visible_to(request.user).order_by("-started_at")[:100]
    subscriptions = [
        {"subscription": s, "can_sync": access.can_write(request.user, s.pk)}
        for s in access.subscriptions_visible_to(request.user).select_related("connection")
    ]
    return render(
        request,
        "sync/sync_status.html",
        {
            "page_title": "Sync status",
            "runs": runs,
            "subscriptions": subscriptions,
            "breadcrumbs": [{"label": "Sync status"}],
        },
    )


@login_required
@require_POST
def sync_now(request: AuthedRequest, pk: int) -> HttpResponse:
    """Security Admins and Owners queue a sync of a subscription now."""
    subscription = access.subscription_get_for_user(request.user, pk, write=True)
    sync_request(user=request.user, subscription=subscription, source="manual", request=request)
    messages.success(request, f"A sync of {subscription} was queued. This page shows it when it runs.")
    return redirect("sync:sync_status")
