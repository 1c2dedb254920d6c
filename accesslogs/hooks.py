"""What accesslogs plugs into the layers below it at start-up (AccesslogsConfig.ready): the "Access logs" block of a
key vault's Security page (settling in place while a change is written back), a local detection's evidence and
related alerts on the alert page, the local alert types' names, and the stale-work sweep's step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse

from accesslogs import kinds, selectors, services
from alerts import labels
from portal import recovery
from portal.accounts.selectors import can_write
from portal.inventory.hooks import vault_tab_url
from portal.inventory.selectors import vault_get_for_user
from portal.web import pending, slots
from portal.web.http import signed_in_user

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

    from alerts.models import Alert
    from portal.inventory.models import KeyVault


def collection_context(user: User, vault: KeyVault) -> dict[str, Any]:
    return {
        "vault": vault,
        "collection": selectors.collection_of(vault),
        "can_change": can_write(user, vault.subscription_id),
        "unavailable": selectors.unavailable_reason(),
    }


def _is_pending(vault: KeyVault) -> bool:
    collection = selectors.collection_of(vault)
    return bool(collection and collection.pending)


def _listing_pending(vault: KeyVault) -> bool:
    listing = selectors.listing_of(vault.subscription_id)
    return bool(listing and listing.pending)


def accounts_context(user: User, vault: KeyVault) -> dict[str, Any]:
    usable, others = selectors.storage_accounts(vault)
    return {
        "vault": vault,
        "usable": usable,
        "others": others,
        "listing": selectors.listing_of(vault.subscription_id),
        "back_url": vault_tab_url(vault.pk, "security"),
    }


def _alert_panel(request: HttpRequest, alert: Alert) -> dict[str, Any] | None:
    user = signed_in_user(request)
    evidence = selectors.evidence_of(alert)
    related = selectors.related(user, alert, evidence)
    if evidence is None and not related:
        return None
    return {
        "evidence": evidence,
        "evidence_rows": selectors.evidence_rows(evidence) if evidence else [],
        "related_other": related,
        "evidence_url": reverse("accesslogs:evidence_json", args=[alert.pk]) if evidence else "",
    }


def register_all() -> None:
    recovery.register("access-logs", services.requeue_stale_pushes)
    labels.name_types(kinds.names())
    pending.register(
        pending.PendingKind(
            name="log-collection",
            load=lambda user, pk: vault_get_for_user(user, pk),
            is_pending=_is_pending,
            template="accesslogs/_collection.html",
            context=collection_context,
        )
    )
    pending.register(
        pending.PendingKind(
            name="storage-listing",
            load=lambda user, pk: vault_get_for_user(user, pk, write=True),
            is_pending=_listing_pending,
            template="accesslogs/_accounts.html",
            context=accounts_context,
        )
    )
    slots.register(slots.Panel("vault.security", "access-logs", "accesslogs/_security_panel.html"))
    slots.register(
        slots.Panel(
            "alert.panels", "access-log-evidence", "accesslogs/_alert_panel.html", _alert_panel, order=5
        )
    )
