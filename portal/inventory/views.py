"""Key vaults blade, a vault's Overview, and the Sync status page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.accounts import selectors as access
from portal.audit.services import audit_record
from portal.inventory.selectors import sync_runs_visible_to, vault_get_for_user, vaults_visible_to
from portal.web.http import AuthedRequest


@login_required
@require_GET
def vaults(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    qs = vaults_visible_to(request.user).order_by("name", "pk")
    if query:
        qs = qs.filter(
            Q(name__icontains=query) | Q(resource_group__icontains=query) | Q(location__icontains=query)
        )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    template = "inventory/vaults.html#table" if request.htmx else "inventory/vaults.html"
    return render(
        request,
        template,
        {"page_title": "Key vaults", "page": page, "query": query, "breadcrumbs": [{"label": "Key vaults"}]},
    )


@login_required
@require_GET
def vault_overview(request: AuthedRequest, pk: int) -> HttpResponse:
    vault = vault_get_for_user(request.user, pk)
    return render(
        request,
        "inventory/vault_overview.html",
        {
            "page_title": vault.name,
            "page_subtitle": "Key vault",
            "vault": vault,
            "tab": "overview",
            "breadcrumbs": [
                {"label": "Key vaults", "url": reverse("inventory:vaults")},
                {"label": vault.name},
            ],
        },
    )


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
        "inventory/sync_status.html",
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
    from portal.inventory.tasks import sync_subscription

    sync_subscription.delay(subscription.pk, trigger=f"manual:{request.user.get_username()}")
    audit_record(actor=request.user, action="sync.requested", obj=subscription, request=request)
    messages.success(request, f"A sync of {subscription} was queued. This page shows it when it runs.")
    return redirect("inventory:sync_status")
