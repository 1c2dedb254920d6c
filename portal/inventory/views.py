"""The Key vaults blade and a vault's Overview; the tabs of a vault other apps add (pricing's Security page) are
registered in portal.inventory.hooks."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from portal.accounts import selectors as access
from portal.inventory import hooks
from portal.inventory.models import KeyVault
from portal.inventory.selectors import vault_get_for_user, vaults_visible_to
from portal.web.formfields import cleaned
from portal.web.forms import VaultFilterForm
from portal.web.http import AuthedRequest


def vault_crumbs(vault: KeyVault | None = None, *extra: dict[str, str]) -> list[dict[str, str]]:
    """The breadcrumbs of the Key vaults blade and a vault's pages (other apps' vault tabs use them too)."""
    crumbs = [{"label": "Key vaults", "url": reverse("inventory:vaults")}]
    if vault is not None:
        crumbs.append({"label": vault.name, "url": reverse("inventory:vault_overview", args=[vault.pk])})
    return [*crumbs, *extra]


def vault_menu(vault: KeyVault) -> list[dict[str, str]]:
    """The vault's resource menu below Overview: the tabs other apps registered (portal.inventory.hooks)."""
    return [
        {"label": t.label, "tab": t.tab, "url": reverse(t.url_name, args=[vault.pk])}
        for t in hooks.REGISTRY.vault_tabs
    ]


@login_required
@require_GET
def vaults(request: AuthedRequest) -> HttpResponse:
    """Every vault the user can see across subscriptions, with the columns other apps add (Defender for Key Vault's
    state, open alerts)."""
    filters = VaultFilterForm(request.GET)
    query = cleaned(filters, "q", "").strip()
    subscription = str(cleaned(filters, "subscription", ""))
    qs = vaults_visible_to(request.user).order_by("name", "pk")
    if query:
        qs = qs.filter(
            Q(name__icontains=query) | Q(resource_group__icontains=query) | Q(location__icontains=query)
        )
    if subscription.isdigit():
        qs = qs.filter(subscription_id=int(subscription))
    page = Paginator(qs, 50).get_page(cleaned(filters, "page", 1))
    headers, cells = hooks.vault_cells(request.user, page)
    rows = [{"vault": v, "cells": cells[v.pk]} for v in page]
    context = {
        "page_title": "Key vaults",
        "page": page,
        "rows": rows,
        "headers": headers,
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
            "vault_menu_extra": vault_menu(vault),
            "breadcrumbs": vault_crumbs(None, {"label": vault.name}),
        },
    )
