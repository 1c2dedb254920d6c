"""Key vaults blade, a vault's Overview and Security pages (Try it free → Upgrade), and the Sync status page."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import selectors as access
from portal.inventory.selectors import sync_runs_visible_to, vault_get_for_user, vaults_visible_to
from portal.inventory.services import sync_request
from portal.web.http import AuthedRequest


def _vault_crumbs(vault: object | None = None, *extra: dict[str, str]) -> list[dict[str, str]]:
    crumbs = [{"label": "Key vaults", "url": reverse("inventory:vaults")}]
    if vault is not None:
        crumbs.append({"label": vault.name, "url": reverse("inventory:vault_overview", args=[vault.pk])})  # type: ignore[attr-defined]
    return [*crumbs, *extra]


def _vault_menu(vault: object) -> list[dict[str, str]]:
    return [
        {"label": "Security", "tab": "security", "url": reverse("inventory:vault_security", args=[vault.pk])}
    ]  # type: ignore[attr-defined]


@login_required
@require_GET
def vaults(request: AuthedRequest) -> HttpResponse:
    """Every vault the user can see across subscriptions, with Defender for Key Vault status and open alerts."""
    from alerts.models import OPEN_STATUSES, AlertRollup
    from pricing.models import Pricing

    query = request.GET.get("q", "").strip()[:100]
    subscription = request.GET.get("subscription", "")
    qs = vaults_visible_to(request.user).order_by("name", "pk")
    if query:
        qs = qs.filter(
            Q(name__icontains=query) | Q(resource_group__icontains=query) | Q(location__icontains=query)
        )
    if subscription.isdigit():
        qs = qs.filter(subscription_id=int(subscription))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ids = [v.pk for v in page]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for vault_id, severity, n in (
        AlertRollup.objects.filter(vault_id__in=ids, status__in=OPEN_STATUSES)
        .values_list("vault_id", "severity")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        counts[vault_id][severity] = n
    plans = {
        p.subscription_id: p
        for p in Pricing.objects.filter(
            name="KeyVaults", subscription_id__in={v.subscription_id for v in page}
        )
    }
    rows = [{"vault": v, "plan": plans.get(v.subscription_id), "open": counts.get(v.pk, {})} for v in page]
    context = {
        "page_title": "Key vaults",
        "page": page,
        "rows": rows,
        "query": query,
        "subscription": subscription,
        "subscriptions": access.subscriptions_visible_to(request.user),
        "breadcrumbs": [{"label": "Key vaults"}],
    }
    return render(
        request, "inventory/vaults.html#table" if request.htmx else "inventory/vaults.html", context
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
            "vault_menu_extra": _vault_menu(vault),
            "breadcrumbs": _vault_crumbs(None, {"label": vault.name}),
        },
    )


@login_required
@require_GET
def vault_security(request: AuthedRequest, pk: int) -> HttpResponse:
    """The vault's Security page: Defender for Key Vault's state for its subscription (settling in place while a
    change is being written back), and the vault's security alerts, also those raised before a plan was turned off."""
    from alerts import selectors as alert_selectors
    from alerts.filters import PAGE_SIZE, FilterState
    from alerts.views import _chart

    vault = vault_get_for_user(request.user, pk)
    form = alert_selectors.filter_form(request.user, QueryDict(f"vault={vault.pk}"))
    form.is_valid()
    state = FilterState(form.cleaned_data)
    context = {
        "page_title": f"{vault.name} | Security",
        "page_subtitle": "Key vault",
        "vault": vault,
        "tab": "security",
        "vault_menu_extra": _vault_menu(vault),
        "alerts": alert_selectors.alerts_page(request.user, state, page_size=PAGE_SIZE),
        "chart": _chart(alert_selectors.trend(request.user, FilterState({**state.data, "status": []}))),
        "list_url": f"{reverse('alerts:list')}?vault={vault.pk}",
        "breadcrumbs": _vault_crumbs(vault, {"label": "Security"}),
    }
    return render(request, "inventory/vault_security.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def vault_upgrade(request: AuthedRequest, pk: int) -> HttpResponse:
    """Try it free for the first 30 days → select the subscription → Upgrade (the plan is per subscription)."""
    from pricing.selectors import key_vault_plan, trial_available
    from pricing.services import plans_save

    vault = vault_get_for_user(request.user, pk)
    choices = list(access.subscriptions_visible_to(request.user, write=True))
    if request.method == "POST":
        subscription = access.subscription_get_for_user(
            request.user, request.POST.get("subscription") or 0, write=True
        )
        try:
            plans_save(
                user=request.user,
                subscription=subscription,
                desired={"KeyVaults": "Standard"},
                request=request,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("inventory:vault_upgrade", pk=vault.pk)
        messages.success(request, f"Microsoft Defender for Key Vault is being enabled for {subscription}.")
        if subscription.pk == vault.subscription_id:
            return redirect("inventory:vault_security", pk=vault.pk)
        return redirect("pricing:plans", pk=subscription.pk)
    plans = {s.pk: key_vault_plan(s.pk) for s in choices}
    rows = [{"subscription": s, "plan": plans[s.pk], "trial": trial_available(plans[s.pk])} for s in choices]
    return render(
        request,
        "inventory/vault_upgrade.html",
        {
            "page_title": "Upgrade to Microsoft Defender for Key Vault",
            "vault": vault,
            "rows": rows,
            "selected": vault.subscription_id,
            "breadcrumbs": _vault_crumbs(vault, {"label": "Upgrade"}),
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
    sync_request(user=request.user, subscription=subscription, source="manual", request=request)
    messages.success(request, f"A sync of {subscription} was queued. This page shows it when it runs.")
    return redirect("inventory:sync_status")
