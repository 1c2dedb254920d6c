"""Email notifications of new alerts to each subscription's security contacts: throttled like Defender, nothing lost.

- Recipients: the contact's additional addresses, and (notify by role) the portal users holding the matching roles.
- Windows per recipient and severity (High 6 h, Medium 12 h, Low 24 h): at most one mail per window; alerts over the
  limit wait in a digest sent when the window reopens ("5 more alerts since your last email"). A digest counts as
  that window's mail. Users may prefer hourly or daily digests, or none.
- The log (Notification) has one row per (alert, recipient, kind), claimed before the mail is sent; each mail carries a
  stable Message-ID, so a resend after a crash between SMTP's acceptance and the commit folds in mail clients.
- Time comes from the `now` argument (an injectable clock), so the throttle and digests are tested in-process.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from alerts.models import SEVERITY_RANK, Alert, Status
from notifications.models import Notification, NotificationBatch, NotificationPreference, SecurityContact
from portal.accounts.models import Role
from portal.text import header_safe

log = logging.getLogger(__name__)

WINDOWS = {
    "High": timedelta(hours=6),
    "Medium": timedelta(hours=12),
    "Low": timedelta(hours=24),
    "Informational": timedelta(hours=24),
}
DIGEST_PERIODS: dict[str, timedelta] = {  # keyed by a preference's mode (a str, as Recipient.mode)
    NotificationPreference.Mode.HOURLY: timedelta(hours=1),
    NotificationPreference.Mode.DAILY: timedelta(days=1),
}
# Azure's notify-by-role roles -> the portal roles whose holders get the mail.
ROLE_MAP = {
    "Owner": Role.OWNER,
    "Contributor": Role.SECURITY_ADMIN,
    "ServiceAdmin": Role.OWNER,
    "AccountAdmin": Role.OWNER,
}
DIGEST_LIST_LIMIT = 50
MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(
    seconds=settings.NOTIFY_STUCK_SECONDS
)  # a claimed mail not sent by then is sent again
KEY_VAULT_SEVERITIES = {"Medium", "Low"}  # every Key Vault alert type is Medium or Low


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None
    mode: str
    minimal_severity: str


def at_least(severity: str, minimum: str) -> bool:
    """Azure's semantics: High means High only, Medium means Medium and High, Low means all."""
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(minimum, 4) or (
        minimum == "Low" and severity == "Informational"
    )


def recipients_for(subscription_pk: int) -> tuple[list[Recipient], str]:
    """Who gets mail for a subscription, and the subscription's minimum severity."""
    contact = SecurityContact.objects.filter(subscription_id=subscription_pk).first()
    if contact is not None and not contact.portal_notifications:
        return [], "High"
    minimum = contact.minimal_severity if contact else "High"
    addresses: dict[str, int | None] = {}
    if contact is not None:
        for email in contact.email_list:
            addresses.setdefault(email.lower(), None)
    notify_roles = (
        contact.roles
        if contact is not None and contact.notify_by_role
        else (["Owner"] if contact is None else [])
    )
    portal_roles = {ROLE_MAP[r] for r in notify_roles if r in ROLE_MAP}
    if portal_roles:
        holders = (
            User.objects.filter(is_active=True)
            .exclude(email="")
            .filter(
                Q(role_assignments__subscription_id=subscription_pk, role_assignments__role__in=portal_roles)
                | Q(
                    groups__role_assignments__subscription_id=subscription_pk,
                    groups__role_assignments__role__in=portal_roles,
                )
            )
            .distinct()
            .values_list("pk", "email")
        )
        for pk, email in holders:
            addresses[email.lower()] = pk
    by_email: dict[str, int] = {}
    for known, pk in (
        User.objects.filter(email__in=list(addresses)).exclude(email="").values_list("email", "pk")
    ):
        by_email.setdefault(known.lower(), pk)
    for email in addresses:
        if addresses[email] is None and email in by_email:
            addresses[email] = by_email[email]
    prefs = {
        p.user_id: p
        for p in NotificationPreference.objects.filter(user_id__in=[u for u in addresses.values() if u])
    }
    result = []
    for email, user_id in sorted(addresses.items()):
        pref = prefs.get(user_id) if user_id else None
        result.append(
            Recipient(
                email,
                user_id,
                pref.mode if pref else NotificationPreference.Mode.IMMEDIATE,
                pref.minimal_severity if pref else "Low",
            )
        )
    return result, minimum


def message_id(*parts: Any) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"<{digest}@kv-console>"  # short enough not to be folded


def queue_new_alert_notifications(*, alert_ids: list[int], subscription_pk: int) -> None:
    """Called by alerts.services.alerts_on_new for fresh, unsuppressed alerts (never the first sync's backlog)."""
    from notifications.tasks import notify_new_alerts  # the tasks import these services

    batch = NotificationBatch.objects.create(
        subscription_id=subscription_pk, alert_ids=list(alert_ids), created_at=timezone.now()
    )
    pk = batch.pk
    transaction.on_commit(lambda: notify_new_alerts.delay(batch_pk=pk))


def plan_batch(*, batch_pk: int) -> list[int]:
    """Claim a batch of new alerts the sync wrote and plan its notifications, in one transaction: the batch is
    deleted with the planning, so a repeated message plans nothing twice. Returns the notifications to send now."""
    with transaction.atomic():
        batch = NotificationBatch.objects.select_for_update(skip_locked=True).filter(pk=batch_pk).first()
        if batch is None:
            return []  # planned already (or being planned by another worker)
        to_send = plan_notifications(alert_ids=batch.alert_ids)
        batch.delete()
    return to_send


def plan_notifications(*, alert_ids: list[int], now: datetime | None = None) -> list[int]:
    """Decide who gets what for new alerts: immediate mails (claimed, returned for sending) and queued digest rows."""
    now = now or timezone.now()
    alerts = list(
        Alert.objects.filter(pk__in=alert_ids, status=Status.ACTIVE, suppression__isnull=True).only(
            "id", "severity", "subscription_id"
        )
    )
    by_subscription: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_subscription[alert.subscription_id].append(alert)
    to_send: list[int] = []
    for subscription_pk, group in by_subscription.items():
        recipients, minimum = recipients_for(subscription_pk)
        if not recipients:
            continue
        emails = [r.email for r in recipients]
        last_sent = _last_mail_times(emails)
        queued: list[Notification] = []
        for recipient in recipients:
            if recipient.mode == NotificationPreference.Mode.OFF:
                continue
            for alert in sorted(group, key=lambda a: -SEVERITY_RANK.get(a.severity, 0)):
                if not (
                    at_least(alert.severity, minimum) and at_least(alert.severity, recipient.minimal_severity)
                ):
                    continue
                if recipient.mode in DIGEST_PERIODS:
                    period = DIGEST_PERIODS[recipient.mode]
                    due = _period_end(now, period)
                    queued.append(
                        _row(alert, recipient, "digest", now, due, f"{recipient.email}|{recipient.mode}")
                    )
                    continue
                window = WINDOWS.get(alert.severity, WINDOWS["Low"])
                key = (recipient.email, alert.severity)
                last = last_sent.get(key)
                if last is None or last + window <= now:
                    row = _claim(alert, recipient.email, recipient.user_id, now)
                    if row is not None:
                        to_send.append(row.pk)
                        last_sent[key] = now
                else:
                    queued.append(
                        _row(
                            alert,
                            recipient,
                            "digest",
                            now,
                            last + window,
                            f"{recipient.email}|{alert.severity}",
                        )
                    )
        for start in range(0, len(queued), 5000):
            Notification.objects.bulk_create(queued[start : start + 5000], ignore_conflicts=True)
    return to_send


def _period_end(now: datetime, period: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=now.tzinfo)
    periods = (now - epoch) // period
    return epoch + (periods + 1) * period


def _row(
    alert: Alert, recipient: Recipient, kind: str, now: datetime, due: datetime, key: str
) -> Notification:
    return Notification(
        alert_id=alert.pk,
        subscription_id=alert.subscription_id,
        recipient=recipient.email,
        user_id=recipient.user_id,
        kind=kind,
        severity=alert.severity,
        created_at=now,
        due_at=due,
        digest_key=key,
    )


def _claim(
    alert: Alert, email: str, user_id: int | None, now: datetime, *, kind: str = "alert"
) -> Notification | None:
    """Claim one mail about an alert to one recipient (the unique constraint makes it happen once)."""
    try:
        with transaction.atomic():
            return Notification.objects.create(
                alert_id=alert.pk,
                subscription_id=alert.subscription_id,
                recipient=email,
                user_id=user_id,
                kind=kind,
                severity=alert.severity,
                state=Notification.State.SENDING,
                message_id=message_id(alert.pk, email, kind),
                created_at=now,
                claimed_at=now,
            )
    except IntegrityError:
        return None  # already claimed (a re-sync, a retried task)


def _alert_mail_context(alert: Alert) -> dict[str, Any]:
    return {
        "alert": alert,
        "link": alert_link(alert.pk),
        "steps": alert.remediation_steps[:3],
        "settings_link": settings.PORTAL_BASE_URL + reverse("web:preferences"),
    }


def _last_mail_times(emails: list[str]) -> dict[tuple[str, str], datetime]:
    """When each recipient last got a mail (an alert or a digest) per severity: the throttle windows."""
    rows = (
        Notification.objects.filter(recipient__in=emails)
        .exclude(kind="digest", state=Notification.State.QUEUED)
        .exclude(sent_at__isnull=True, claimed_at__isnull=True)
        .values_list("recipient", "severity")
        .annotate(last=Max("claimed_at"))
        .order_by()
    )
    return {(r, s): last for r, s, last in rows if last}


# --- sending -----------------------------------------------------------------------------------------------------


def alert_link(alert_pk: int) -> str:
    return settings.PORTAL_BASE_URL + reverse("alerts:detail", args=[alert_pk])


def send_alert_mail(
    notification_pk: int, *, connection: BaseEmailBackend | None = None, now: datetime | None = None
) -> bool:
    """Send a claimed immediate mail. Safe to repeat: the Message-ID is the same every time."""
    now = now or timezone.now()
    row = (
        Notification.objects.select_related("alert__vault", "alert__subscription")
        .filter(pk=notification_pk)
        .first()
    )
    if row is None or row.state == Notification.State.SENT:
        return False
    alert = row.alert
    context = _alert_mail_context(alert)
    where = alert.vault.name if alert.vault is not None else alert.compromised_entity
    subject = header_safe(f"[{alert.severity}] {alert.title or alert.alert_type}", max_length=200) + (
        f" - {header_safe(where, max_length=117)}" if where else ""  # ASCII: Django's encoder folds others
    )
    text = render_to_string("notifications/email/alert.txt", context)
    html = render_to_string("notifications/email/alert.html", context)
    return _deliver(row, subject, text, html, connection=connection, now=now)


def _deliver(
    row: Notification,
    subject: str,
    text: str,
    html: str,
    *,
    connection: BaseEmailBackend | None,
    now: datetime,
    group: list[int] | None = None,
) -> bool:
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[row.recipient],
        headers={"Message-ID": row.message_id},
        connection=connection,
    )
    mail.attach_alternative(html, "text/html")
    pks = group or [row.pk]
    try:
        mail.send(fail_silently=False)
    except Exception as exc:  # SMTP down, refused...: recorded, retried with backoff, then failed
        attempts = row.attempts + 1
        failed = attempts >= MAX_ATTEMPTS
        Notification.objects.filter(pk__in=pks).update(
            attempts=attempts,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            state=Notification.State.FAILED if failed else Notification.State.QUEUED,
            due_at=now + timedelta(seconds=min(3600, 30 * 2**attempts)),
        )
        log.warning("mail to %s failed (attempt %s): %s", row.recipient, attempts, exc)
        return False
    Notification.objects.filter(pk__in=pks).update(
        state=Notification.State.SENT,
        sent_at=now,
        error="",
        attempts=row.attempts + 1,
        subject=subject[:500],
        body_text=text,
    )
    return True


def send_due(*, now: datetime | None = None, connection: BaseEmailBackend | None = None) -> int:
    """The periodic task: digests whose window has reopened, mails to retry, and mails stuck in 'sending' (a worker
    died after claiming): each sent (again) with its own stable Message-ID."""
    now = now or timezone.now()
    sent = 0
    stuck = Notification.objects.filter(
        state=Notification.State.SENDING, claimed_at__lte=now - STUCK_AFTER, kind="alert"
    )
    retry = Notification.objects.filter(state=Notification.State.QUEUED, kind="alert", due_at__lte=now)
    for pk in list(stuck.values_list("pk", flat=True)) + list(retry.values_list("pk", flat=True)):
        if (
            Notification.objects.filter(pk=pk)
            .exclude(state=Notification.State.SENT)
            .update(state=Notification.State.SENDING, claimed_at=now)
        ):
            sent += send_alert_mail(pk, connection=connection, now=now)
    keys = (
        Notification.objects.filter(kind="digest", state=Notification.State.QUEUED, due_at__lte=now)
        .values_list("digest_key", flat=True)
        .distinct()
    )
    for key in list(keys):
        sent += send_digest(key, now=now, connection=connection)
    stuck_digests = (
        Notification.objects.filter(
            kind="digest", state=Notification.State.SENDING, claimed_at__lte=now - STUCK_AFTER
        )
        .values_list("digest_key", "message_id")
        .distinct()
    )
    for key, mid in list(stuck_digests):
        sent += send_digest(key, now=now, connection=connection, resend_message_id=mid)
    return sent


def send_digest(
    key: str, *, now: datetime, connection: BaseEmailBackend | None = None, resend_message_id: str = ""
) -> bool:
    """One digest mail for every queued alert of `key` (a recipient and a severity, or a digest period)."""
    with transaction.atomic():
        if resend_message_id:
            rows = Notification.objects.filter(
                digest_key=key, message_id=resend_message_id, state=Notification.State.SENDING
            )
            mid = resend_message_id
        else:
            rows = Notification.objects.select_for_update(skip_locked=True).filter(
                digest_key=key, state=Notification.State.QUEUED, kind="digest", due_at__lte=now
            )
            mid = message_id(key, "digest", now.isoformat())
        pks = list(
            rows.order_by("-alert__severity_rank", "-alert__time_generated").values_list("pk", flat=True)
        )
        if not pks:
            return False
        if not resend_message_id:
            Notification.objects.filter(pk__in=pks).update(
                state=Notification.State.SENDING, claimed_at=now, message_id=mid
            )
    first = Notification.objects.select_related("alert").get(pk=pks[0])
    alerts = list(
        Alert.objects.filter(notifications__pk__in=pks[:DIGEST_LIST_LIMIT])
        .select_related("vault")
        .order_by("-severity_rank", "-time_generated")
    )
    total = len(pks)
    severity = first.severity if "|" in key and key.split("|")[1] in WINDOWS else ""
    list_url = (
        settings.PORTAL_BASE_URL + reverse("alerts:list") + (f"?severity={severity}" if severity else "")
    )
    context = {
        "alerts": alerts,
        "total": total,
        "more": max(0, total - len(alerts)),
        "list_url": list_url,
        "severity": severity,
        "link": alert_link,
    }
    subject = header_safe(
        f"{total} more {severity + ' ' if severity else ''}alert{'s' if total != 1 else ''} since your last email"
    )
    text = render_to_string(
        "notifications/email/digest.txt", {**context, "items": [(a, alert_link(a.pk)) for a in alerts]}
    )
    html = render_to_string(
        "notifications/email/digest.html", {**context, "items": [(a, alert_link(a.pk)) for a in alerts]}
    )
    first.message_id = mid
    return _deliver(first, subject, text, html, connection=connection, now=now, group=pks)


def minimum_hides_key_vault(minimal_severity: str) -> bool:
    """Every Key Vault alert type is Medium or Low: a High minimum mails none of them."""
    return not any(at_least(s, minimal_severity) for s in KEY_VAULT_SEVERITIES)


def send_assignment_mail(*, alert_pk: int, user_pk: int, now: datetime | None = None) -> bool:
    """Tell a user an alert was assigned to them (once per alert and person; not if their preference is off)."""
    now = now or timezone.now()
    user = User.objects.filter(pk=user_pk, is_active=True).exclude(email="").first()
    alert = Alert.objects.select_related("vault", "subscription").filter(pk=alert_pk).first()
    if user is None or alert is None:
        return False
    pref = NotificationPreference.objects.filter(user=user).first()
    if pref is not None and pref.mode == NotificationPreference.Mode.OFF:
        return False
    row = _claim(alert, user.email.lower(), user.pk, now, kind="assigned")
    if row is None:
        return False
    context = _alert_mail_context(alert)
    subject = header_safe(f"Assigned to you: [{alert.severity}] {alert.title or alert.alert_type}")
    text = "You are now the owner of this alert.\n\n" + render_to_string(
        "notifications/email/alert.txt", context
    )
    html = render_to_string("notifications/email/alert.html", context)
    return _deliver(row, subject, text, html, connection=None, now=now)
