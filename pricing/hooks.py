"""What pricing plugs into the layers below it at start-up (PricingConfig.ready): its pending write-back kind, the
Pricing & settings menu entry, the Overview's coverage panel, a key vault's Security tab and the Key vaults blade's
Defender for Key Vault column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from portal.accounts import selectors as access
from portal.inventory import hooks as inventory_hooks
from portal.web import chrome, slots
from pricing import pending_kinds
from pricing.models import Pricing
from pricing.selectors import coverage_by_subscription

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.inventory.models import KeyVault


def _coverage(request: HttpRequest, _obj: Any) -> dict[str, Any]:
    return {"coverage": coverage_by_subscription(list(access.subscriptions_visible_to(request.user)))}


def _key_vault_plans(user: User, vaults: list[KeyVault]) -> dict[int, Pricing | None]:
    plans = {
        p.subscription_id: p
        for p in Pricing.objects.filter(
            name="KeyVaults", subscription_id__in={v.subscription_id for v in vaults}
        )
    }
    return {v.pk: plans.get(v.subscription_id) for v in vaults}


def register_all() -> None:
    pending_kinds.register_all()
    chrome.menu_item(
        chrome.MenuItem("Security Center", "Pricing & settings", "pricing:subscriptions", "pricing", order=80)
    )
    slots.register(slots.Panel("overview.panels", "coverage", "pricing/_coverage.html", _coverage))
    inventory_hooks.vault_tab(
        inventory_hooks.VaultTab("Security", "security", "pricing_vault:security", order=10)
    )
    inventory_hooks.vault_column(
        inventory_hooks.VaultColumn(
            "Defender for Key Vault", "pricing/_vault_plan_cell.html", _key_vault_plans, order=10
        )
    )
