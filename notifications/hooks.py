"""What notifications registers at start-up: its step on new alerts (plan the mails of fresh ones, never the first
sync's backlog nor suppressed alerts), the pending state of a security contact being written to Azure, and its
steps of the stale-work sweep."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from alerts import hooks
from notifications import services, tasks
from notifications.contact_services import preference_save
from notifications.forms import NotificationPreferenceForm
from notifications.models import NotificationBatch, NotificationPreference, SecurityContact
from portal import recovery
from portal.accounts.selectors import get_for_user
from portal.web import chrome, slots
from portal.web.pending import PendingKind, register

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _queue_mails(batch: hooks.NewAlerts) -> None:
    fresh = batch.fresh
    if fresh and not batch.backlog:
        services.queue_new_alert_notifications(alert_ids=fresh, subscription_pk=batch.subscription_pk)


def _contact(user: User, pk: int) -> SecurityContact:
    return get_for_user(SecurityContact.objects.all(), user, pk=pk)


def _requeue_contacts(now: datetime, cutoff: datetime) -> int:
    # one per subscription, no clock of their own: a pending one is pushed again at each sweep (an idempotent PUT)
    return recovery.requeue(
        SecurityContact.objects.filter(pending_push=True, push_error=""), tasks.push_contact.delay
    )


def _requeue_batches(now: datetime, cutoff: datetime) -> int:
    return recovery.requeue(
        NotificationBatch.objects.filter(created_at__lt=cutoff),
        lambda pk: tasks.notify_new_alerts.delay(batch_pk=pk),
        created_at=now,
    )


def _preference_initial(user: User) -> dict[str, Any]:
    notify = NotificationPreference.objects.filter(user=user).first()
    return {
        "notify_mode": notify.mode if notify else "immediate",
        "notify_min_severity": notify.minimal_severity if notify else "Low",
    }


def _preference_save(user: User, data: dict[str, Any]) -> None:
    preference_save(user=user, mode=data["notify_mode"], minimal_severity=data["notify_min_severity"])


def register_all() -> None:
    hooks.on_new_alerts("notifications", _queue_mails, order=30)
    register(
        PendingKind(
            name="contact",
            load=_contact,
            is_pending=lambda contact: bool(contact.pending_push),
            template="notifications/_contact_push_live.html",
        )
    )
    recovery.register("contacts", _requeue_contacts)
    recovery.register("notification_batches", _requeue_batches)
    slots.register(slots.Panel("alert.suppress", "mail-settings", "notifications/_alert_mail_link.html"))
    chrome.menu_item(
        chrome.MenuItem(
            "Security Center", "Email notifications", "notifications:email_settings", "mail", order=90
        )
    )
    chrome.preference_section(
        chrome.PreferenceSection(
            "notifications", NotificationPreferenceForm, _preference_initial, _preference_save
        )
    )
