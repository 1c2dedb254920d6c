"""What alerts plugs into the layers below it at start-up (AlertsConfig.ready): its pending write-back kind, its
menu entries, alerts in the top bar's search, and the Key vaults blade's "Open alerts" column."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db.models import Sum
from django.urls import reverse

from alerts import pending_kinds
from alerts.models import OPEN_STATUSES, AlertRollup
from alerts.selectors import alerts_quick_search
from portal.inventory import hooks as inventory_hooks
from portal.inventory.models import KeyVault
from portal.web import chrome
from portal.web.when import as_text

SEARCH_LIMIT = 8


def _search(user: User, query: str) -> list[chrome.SearchResult]:
    results = []
    for a in alerts_quick_search(user, query, limit=SEARCH_LIMIT):
        where = a.vault.name if a.vault is not None else a.compromised_entity
        when = as_text(a.time_generated)
        results.append(
            chrome.SearchResult(
                "Alert",
                a.title or a.alert_type,
                f"{a.severity} · {where} · {when}",
                reverse("alerts:detail", args=[a.pk]),
            )
        )
    return results


def _open_by_vault(user: User, vaults: Iterable[KeyVault]) -> dict[int, dict[str, int]]:
    """Open alerts per severity of each vault (the caller's vaults are already those the user may see)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for vault_id, severity, n in (
        AlertRollup.objects.filter(vault_id__in=[v.pk for v in vaults], status__in=OPEN_STATUSES)
        .values_list("vault_id", "severity")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        counts[vault_id][severity] = n
    return counts


def register_all() -> None:
    pending_kinds.register_all()
    for item in (
        chrome.MenuItem("Security Center", "Overview", "alerts:overview", "overview", order=10),
        chrome.MenuItem("Security Center", "Security alerts", "alerts:list", "alerts", order=20),
        chrome.MenuItem("Security Center", "Alert types", "alerts:types", "types", order=40),
    ):
        chrome.menu_item(item)
    chrome.search_provider("alerts", _search, order=10)
    inventory_hooks.vault_column(
        inventory_hooks.VaultColumn("Open alerts", "alerts/_vault_open_cell.html", _open_by_vault, order=20)
    )
