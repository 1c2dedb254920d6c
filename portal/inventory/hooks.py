"""How the apps above the inventory plug into it, without the inventory importing them (STYLE rule 6a).

An app registers at start-up (its AppConfig.ready):
- `set_sync_requester`: the sync app, which queues a sync of one subscription (alerts' sample alerts ask for one
  through `request_sync`).
- `vault_tab`: a tab of a key vault's resource menu (pricing's Security page).
- `vault_column`: a column of the Key vaults blade (pricing's plan state, alerts' open alerts), with the template
  that draws its cell and a function that reads the values for one page of vaults at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.inventory.models import KeyVault


@dataclass(frozen=True)
class VaultTab:
    label: str
    tab: str  # the `tab` a page of that tab passes to the menu (marks it current)
    url_name: str  # reversed with the vault's pk
    order: int = 100


@dataclass(frozen=True)
class VaultColumn:
    header: str
    template: str  # drawn with `value` (what `values` gave for the vault, or None) and `vault`
    values: Callable[[User, list[KeyVault]], dict[int, Any]]  # (user, vaults) -> {vault pk: value}
    order: int = 100


@dataclass
class _Registry:
    sync_requester: Callable[[int, str], None] | None = None
    vault_tabs: list[VaultTab] = field(default_factory=list)
    vault_columns: list[VaultColumn] = field(default_factory=list)


REGISTRY = _Registry()


class SyncUnavailable(RuntimeError):
    """No app that runs syncs is installed."""


def set_sync_requester(fn: Callable[[int, str], None]) -> None:
    REGISTRY.sync_requester = fn


def request_sync(subscription_pk: int, trigger: str) -> None:
    """Queue a sync of one subscription (`trigger` is recorded on the run, 30 characters)."""
    if REGISTRY.sync_requester is None:
        raise SyncUnavailable("no sync app is installed")
    REGISTRY.sync_requester(subscription_pk, trigger[:30])


def _replace(items: list[Any], item: Any, key: str) -> None:
    items[:] = [i for i in items if getattr(i, key) != getattr(item, key)] + [item]
    items.sort(key=lambda i: (i.order, getattr(i, key)))


def vault_tab(tab: VaultTab) -> None:
    _replace(REGISTRY.vault_tabs, tab, "tab")


def vault_column(column: VaultColumn) -> None:
    _replace(REGISTRY.vault_columns, column, "header")


def vault_cells(user: User, vaults: Iterable[KeyVault]) -> tuple[list[str], dict[int, list[dict[str, Any]]]]:
    """The registered columns' headers, and per vault its cells ({"template", "value"}) in the same order."""
    vaults = list(vaults)
    columns = list(REGISTRY.vault_columns)
    values = [column.values(user, vaults) for column in columns]
    cells = {
        v.pk: [
            {"template": c.template, "value": vals.get(v.pk)} for c, vals in zip(columns, values, strict=True)
        ]
        for v in vaults
    }
    return [c.header for c in columns], cells


def vault_tab_url(vault_pk: int, tab: str) -> str:
    """The address of a vault's registered tab (e.g. "security"), else the vault's overview: how an app reaches a
    tab that another app of its layer owns."""
    from django.urls import reverse

    for item in REGISTRY.vault_tabs:
        if item.tab == tab:
            return reverse(item.url_name, args=[vault_pk])
    return reverse("inventory:vault_overview", args=[vault_pk])
