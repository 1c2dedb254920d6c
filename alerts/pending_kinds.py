"""The alert states written back to Azure that settle in place (portal.web.pending): an alert's status, a suppression
rule, a subscription's security contact."""

from __future__ import annotations

from typing import Any

from alerts import selectors
from alerts.models import SecurityContact
from portal.accounts.selectors import get_for_user
from portal.web.pending import PendingKind, register


def _contact(user: Any, pk: int) -> SecurityContact:
    return get_for_user(SecurityContact.objects.all(), user, pk=pk)


def register_all() -> None:
    register(
        PendingKind(
            name="alert-status",
            load=lambda user, pk: selectors.alert_get_for_user(user, pk),
            is_pending=lambda alert: bool(alert.pending_status),
            template="alerts/_status_live.html",
        )
    )
    register(
        PendingKind(
            name="rule",
            load=lambda user, pk: selectors.rule_get_for_user(user, pk),
            is_pending=lambda rule: rule.push_state == "pending",
            template="alerts/_rule_push_live.html",
        )
    )
    register(
        PendingKind(
            name="contact",
            load=_contact,
            is_pending=lambda contact: bool(contact.pending_push),
            template="alerts/_contact_push_live.html",
        )
    )
