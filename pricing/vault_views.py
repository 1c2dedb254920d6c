"""A key vault's Security tab (Defender for Key Vault's state and the vault's alerts) and Try it free for the first
30 days → pick the subscription → Upgrade. The plan is per subscription; the tab is registered with the inventory's
vault menu (pricing.hooks)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from alerts import selectors as alert_selectors
from alerts.charts import chart
from alerts.filters import PAGE_SIZE, FilterState
from portal.accounts import selectors as access
from portal.inventory.selectors import vault_get_for_user
from portal.inventory.views import vault_crumbs, vault_menu
from portal.web.formfields import cleaned
from portal.web.http import AuthedRequest
from pricing import selectors
from pricing.forms import SubscriptionForm
from pricing.services import plans_save


@login_required
@require_GET
def vault_security(request: AuthedRequest, pk: int) -> HttpResponse:
    """The vault's Security page: Defender for Key Vault's state for its subscription (settling in place while a
    change is being written back), and the vault's security alerts, also those raised before a plan was turned off."""
    vault = vault_get_for_user(request.user, pk)
    form = alert_selectors.filter_form(request.user, QueryDict(f"vault={vault.pk}"))
    form.is_valid()
    state = FilterState(form.cleaned_data)
    context = {
        "page_title": f"{vault.name} | Security",
        "page_subtitle": "Key vault",
        "vault": vault,
        "tab": "security",
        "vault_menu_extra": vault_menu(vault),
        "alerts": alert_selectors.alerts_page(request.user, state, page_size=PAGE_SIZE),
        "chart": chart(alert_selectors.trend(request.user, FilterState({**state.data, "status": []}))),
        "list_url": f"{reverse('alerts:list')}?vault={vault.pk}",
        "breadcrumbs": vault_crumbs(vault, {"label": "Security"}),
    }
    return render(request, "pricing/vault_security.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def vault_upgrade(request: AuthedRequest, pk: int) -> HttpResponse:
    """Try it free for the first 30 days → select the subscription → Upgrade (the plan is per subscription)."""
    vault = vault_get_for_user(request.user, pk)
    choices = list(access.subscriptions_visible_to(request.user, write=True))
    if request.method == "POST":
        subscription = access.subscription_get_for_user(
            request.user, cleaned(SubscriptionForm(request.POST), "subscription", 0), write=True
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
            return redirect("pricing_vault:upgrade", pk=vault.pk)
        messages.success(request, f"Microsoft Defender for Key Vault is being enabled for {subscription}.")
        if subscription.pk == vault.subscription_id:
            return redirect("pricing_vault:security", pk=vault.pk)
        return redirect("pricing:plans", pk=subscription.pk)
    plans = {s.pk: selectors.key_vault_plan(s.pk) for s in choices}
    rows = [
        {"subscription": s, "plan": plans[s.pk], "trial": selectors.trial_available(plans[s.pk])}
        for s in choices
    ]
    return render(
        request,
        "pricing/vault_upgrade.html",
        {
            "page_title": "Upgrade to Microsoft Defender for Key Vault",
            "vault": vault,
            "rows": rows,
            "selected": vault.subscription_id,
            "breadcrumbs": vault_crumbs(vault, {"label": "Upgrade"}),
        },
    )
