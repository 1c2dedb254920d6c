"""An alert's status written back to Azure settles in place (portal.web.pending); and the alerts' step of the
stale-work sweep."""

from __future__ import annotations

from alerts import selectors, status
from portal import recovery
from portal.web.pending import PendingKind, register


def register_all() -> None:
    register(
        PendingKind(
            name="alert-status",
            load=lambda user, pk: selectors.alert_get_for_user(user, pk),
            is_pending=lambda alert: bool(alert.pending_status),
            template="alerts/_status_live.html",
        )
    )
    recovery.register("statuses", status.requeue_stale_pushes)
