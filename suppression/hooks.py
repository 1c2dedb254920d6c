"""What suppression registers at start-up: its step on new alerts, the list's `is_suppressed` column, the pending
state of a rule being written to Azure, and its step of the stale-work sweep."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from alerts import hooks
from portal import recovery
from portal.web import chrome, slots
from portal.web.pending import PendingKind, register
from suppression import selectors, services
from suppression.models import SuppressedAlert


def _dismiss_matching(batch: hooks.NewAlerts) -> None:
    result = services.apply_rules_to_alerts(
        alert_ids=batch.alert_ids, subscription_pk=batch.subscription_pk, candidates=batch.candidates
    )
    batch.suppressed.update(result.suppressed)


def register_all() -> None:
    hooks.on_new_alerts("suppression", _dismiss_matching, order=10)
    hooks.list_annotation(
        "is_suppressed", lambda: Exists(SuppressedAlert.objects.filter(alert_id=OuterRef("pk")))
    )
    register(
        PendingKind(
            name="rule",
            load=lambda user, pk: selectors.rule_get_for_user(user, pk),
            is_pending=lambda rule: rule.push_state == "pending",
            template="suppression/_rule_push_live.html",
        )
    )
    recovery.register("rules", services.requeue_stale_pushes)
    slots.register(slots.Panel("alerts.list.commands.first", "rules", "suppression/_rules_button.html"))
    slots.register(slots.Panel("staff_only.links", "rules", "suppression/_rules_button.html"))
    slots.register(slots.Panel("alert.actions", "suppress", "suppression/_alert_suppress.html", order=10))
    chrome.menu_item(
        chrome.MenuItem("Security Center", "Suppression rules", "suppression:rules", "rules", order=50)
    )
