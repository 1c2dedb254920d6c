"""An alert's status written back to Azure settles in place (portal.web.pending); and the alerts' step of the
stale-work sweep."""

from __future__ import annotations

from datetime import datetime

from alerts import selectors, tasks
from alerts.models import Alert
from portal import recovery
from portal.web.pending import PendingKind, register


def _requeue_statuses(now: datetime, cutoff: datetime) -> int:
    return recovery.requeue(
        Alert.objects.filter(pending_since__lt=cutoff, pending_failed=False).exclude(pending_status=""),
        tasks.push_alert_status.delay,
        pending_since=now,
    )


def register_all() -> None:
    register(
        PendingKind(
            name="alert-status",
            load=lambda user, pk: selectors.alert_get_for_user(user, pk),
            is_pending=lambda alert: bool(alert.pending_status),
            template="alerts/_status_live.html",
        )
    )
    recovery.register("statuses", _requeue_statuses)
