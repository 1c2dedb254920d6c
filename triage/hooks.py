"""What triage registers at start-up: incidents grouped and webhooks announced on new alerts, incidents regrouped
on changed ones, the status-change webhook, the webhook deliveries' step of the stale-work sweep; on the pages,
the alert page's owner box, incident link and discussion, the alert list's "Save view" and bulk assignment, the
menu's entries and saved views."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse

from alerts import hooks
from alerts.models import Alert, AlertEvent
from portal import recovery
from portal.web import chrome, slots
from portal.web.http import signed_in_user
from triage import selectors, services, tasks, views, webhooks
from triage.models import AlertComment, WebhookDelivery


def _group_new(batch: hooks.NewAlerts) -> None:
    if batch.correlation_keys is None:
        services.incidents_attach(alert_ids=batch.alert_ids, subscription_pk=batch.subscription_pk)
    else:
        services.incidents_group(subscription_pk=batch.subscription_pk, keys=batch.correlation_keys)


def _group_changed(changed: hooks.ChangedAlerts) -> None:
    services.incidents_group(subscription_pk=changed.subscription_pk, keys=changed.correlation_keys)


def _announce(batch: hooks.NewAlerts) -> None:
    fresh = batch.fresh
    if fresh and not batch.backlog:
        webhooks.webhooks_for_new_alerts(alert_ids=fresh, subscription_pk=batch.subscription_pk)


def _requeue_deliveries(now: datetime, cutoff: datetime) -> int:
    # never attempted (the message was lost before any try), or a retry whose countdown message was lost
    # (untouched for longer than the longest backoff); or claimed by a worker that died mid-POST (the receiver
    # may then see it twice; X-KV-Delivery lets it tell)
    retry_cutoff = cutoff - timedelta(seconds=tasks.MAX_BACKOFF_SECONDS)
    return recovery.requeue(
        WebhookDelivery.objects.filter(
            Q(state="pending", attempts=0, touched_at__lt=cutoff)
            | Q(state="pending", attempts__gt=0, touched_at__lt=retry_cutoff)
            | Q(state="sending", touched_at__lt=cutoff)
        ),
        tasks.deliver_webhook.delay,
        state="pending",
        touched_at=now,
    )


def _status_webhook(change: hooks.StatusChange) -> None:
    webhooks.webhooks_for_status_changes(
        alerts=change.alerts, before=change.before, actor=change.actor, source=change.source
    )


def _incident_pk(alert: Alert) -> int | None:
    incident = selectors.incident_of(alert)
    return incident.pk if incident else None


def _comments_in_activity(alert: Alert, events: list[AlertEvent]) -> None:
    ids = [(e.data or {}).get("comment_id") for e in events if e.kind == "comment"]
    by_id = {c.pk: c for c in AlertComment.objects.filter(alert=alert, pk__in=[i for i in ids if i])}
    for event in events:
        if event.kind == "comment":
            comment_id = (event.data or {}).get("comment_id")
            comment = by_id.get(comment_id) if comment_id is not None else None
            event.comment = comment  # type: ignore[attr-defined]  # not a field: for the activity template


def _saved_views(request: HttpRequest) -> list[dict[str, Any]]:
    """The user's saved views of Security alerts, and the ones shared with the team."""
    full = request.get_full_path()
    items = []
    for view in selectors.saved_views_menu(signed_in_user(request)):
        url = reverse("alerts:list") + (f"?{view['query']}" if view["query"] else "")
        label = view["name"] + (" (shared)" if view["shared"] and not view["mine"] else "")
        items.append({"label": label, "url": url, "icon": "view", "active": full == url})
    return items


def _register_pages() -> None:
    slots.register(
        slots.Panel(
            "alert.header",
            "owner",
            "triage/_owner.html",
            lambda r, alert: views.owner_context(signed_in_user(r), alert),
        )
    )
    slots.register(slots.Panel("alert.essentials", "incident", "triage/_alert_incident.html"))
    slots.register(
        slots.Panel(
            "alert.panels",
            "comments",
            "triage/_comments.html",
            lambda r, alert: views.comments_context(signed_in_user(r), alert),
            order=20,
        )
    )
    slots.register(slots.Panel("alerts.list.commands", "save-view", "triage/_save_view_button.html"))
    slots.register(
        slots.Panel(
            "alerts.list.bulk",
            "assign",
            "triage/_bulk_assign.html",
            lambda r, _: {"assignees": selectors.assignee_choices(signed_in_user(r))},
        )
    )
    for item in (
        chrome.MenuItem("Security Center", "Incidents", "triage:incidents", "incidents", order=30),
        chrome.MenuItem("Security Center", "Metrics", "triage:metrics", "metrics", order=70),
        chrome.MenuItem("Settings", "Webhooks", "triage:webhooks", "webhooks", order=20),
        chrome.MenuItem(
            "Settings", "Retention", "triage:retention", "retention", order=90, superuser_only=True
        ),
    ):
        chrome.menu_item(item)
    chrome.menu_section("Saved views", _saved_views)


def register_all() -> None:
    hooks.on_new_alerts("incidents", _group_new, order=20)
    hooks.on_new_alerts("webhooks", _announce, order=40)
    hooks.on_changed_alerts("incidents", _group_changed)
    hooks.on_status_changed("webhooks", _status_webhook, order=40)
    hooks.set_incident_lookup(_incident_pk)
    hooks.activity_detail("comments", _comments_in_activity)
    recovery.register("deliveries", _requeue_deliveries)
    _register_pages()
