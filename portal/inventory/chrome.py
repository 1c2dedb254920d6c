"""What the inventory adds to the page chrome at start-up: the Key vaults menu entry and key vaults in the top
bar's search."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse

from portal.inventory.selectors import vaults_visible_to
from portal.web import chrome

LIMIT = 8


def _vaults(user: User, query: str) -> list[chrome.SearchResult]:
    vaults = vaults_visible_to(user).filter(name__icontains=query).order_by("name")[:LIMIT]
    return [
        chrome.SearchResult(
            "Key vault",
            v.name,
            f"{v.resource_group} · {v.location} · {v.subscription}",
            reverse("inventory:vault_overview", args=[v.pk]),
        )
        for v in vaults
    ]


def register_all() -> None:
    chrome.menu_item(chrome.MenuItem("Key Vault", "Key vaults", "inventory:vaults", "vault", order=10))
    chrome.search_provider("vaults", _vaults, order=20)
