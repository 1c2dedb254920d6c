"""The top bar's search: alerts (by id, title, entity, IP, UPN) and key vaults the user can see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from portal.inventory.selectors import vaults_visible_to

LIMIT = 8


@dataclass(frozen=True)
class SearchResult:
    kind: str  # "Alert" | "Key vault"
    title: str
    detail: str
    url: str


def run(user: Any, query: str) -> list[SearchResult]:
    results: list[SearchResult] = []
    results.extend(_alerts(user, query))
    results.extend(_vaults(user, query))
    return results


def _vaults(user: Any, query: str) -> list[SearchResult]:
    vaults = vaults_visible_to(user).filter(name__icontains=query).order_by("name")[:LIMIT]
    return [
        SearchResult(
            "Key vault",
            v.name,
            f"{v.resource_group} · {v.location} · {v.subscription}",
            reverse("inventory:vault_overview", args=[v.pk]),
        )
        for v in vaults
    ]


def _alerts(user: Any, query: str) -> list[SearchResult]:
    from django.utils import timezone

    from alerts.selectors import alerts_quick_search

    results = []
    for a in alerts_quick_search(user, query, limit=LIMIT):
        where = a.vault.name if a.vault_id else a.compromised_entity
        when = timezone.localtime(a.time_generated).strftime("%Y-%m-%d %H:%M")
        results.append(
            SearchResult(
                "Alert",
                a.title or a.alert_type,
                f"{a.severity} · {where} · {when}",
                reverse("alerts:detail", args=[a.pk]),
            )
        )
    return results
