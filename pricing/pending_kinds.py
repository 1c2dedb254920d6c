"""Defender plan changes written back to Azure settle in place (portal.web.pending): a row of Pricing & settings, and
the Microsoft Defender for Key Vault block of a key vault's Security page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal import recovery
from portal.accounts.selectors import can_write, can_write_any
from portal.inventory.selectors import vault_get_for_user
from portal.web.pending import PendingKind, register
from pricing import selectors, services

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.inventory.models import KeyVault


def _vault_plan_context(user: User, vault: KeyVault) -> dict[str, Any]:
    plan = selectors.key_vault_plan(vault.subscription_id)
    left = selectors.trial_left(plan) if plan else None
    return {
        "vault": vault,
        "plan": plan,
        "trial_available": selectors.trial_available(plan),
        "trial_days": selectors.trial_days(left),
        "can_upgrade": can_write_any(user),
    }


def _vault_plan_pending(vault: KeyVault) -> bool:
    plan = selectors.key_vault_plan(vault.subscription_id)
    return bool(plan and plan.pending_tier)


def register_all() -> None:
    recovery.register("plans", services.requeue_stale_pushes)
    register(
        PendingKind(
            name="plan-row",
            load=selectors.pricing_get_for_user,
            is_pending=lambda pricing: bool(pricing.pending_tier),
            template="pricing/_plan_row.html",
            context=lambda user, pricing: {
                "plan_row": selectors.plan_row(pricing),
                "can_write": can_write(user, pricing.subscription_id),
            },
        )
    )
    register(
        PendingKind(
            name="vault-defender",
            load=lambda user, pk: vault_get_for_user(user, pk),
            is_pending=_vault_plan_pending,
            template="pricing/_vault_defender.html",
            context=_vault_plan_context,
        )
    )
