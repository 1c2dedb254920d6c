"""Security contacts (as Azure keeps them), each user's notification preference, and the notification log."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from alerts.models import Alert
from portal.fields import FastJSONField


class SecurityContact(models.Model):
    """A subscription's security contact (`default`), as Azure keeps it; edited with Email notifications."""

    subscription = models.OneToOneField(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="security_contact"
    )
    emails = models.TextField(blank=True)  # ';'-separated, as the API spells it
    phone = models.CharField(max_length=50, blank=True)
    alert_notifications = models.BooleanField(default=True)
    minimal_severity = models.CharField(max_length=20, default="High")
    notify_by_role = models.BooleanField(default=True)
    # Portal-owned: whether this portal mails new alerts (in addition to, or instead of, Azure's own mail).
    portal_notifications = models.BooleanField(default=True)
    pending_push = models.BooleanField(default=False)
    push_error = models.TextField(blank=True)
    roles = FastJSONField(default=list, blank=True)
    in_azure = models.BooleanField(default=False)
    content_hash = models.CharField(max_length=32, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "alerts_securitycontact"  # the table it had in the alerts app

    def __str__(self) -> str:
        return f"Security contact of {self.subscription}"

    @property
    def email_list(self) -> list[str]:
        return [e.strip() for e in self.emails.replace(",", ";").split(";") if e.strip()]


class NotificationPreference(models.Model):
    """How a user receives alert emails: at once (with Defender's per-severity windows), as digests, or not."""

    class Mode(models.TextChoices):
        IMMEDIATE = "immediate", "At once (at most one mail per window, the rest in a digest)"
        HOURLY = "hourly", "Hourly digest"
        DAILY = "daily", "Daily digest"
        OFF = "off", "Off"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.IMMEDIATE)
    minimal_severity = models.CharField(
        max_length=20,
        choices=[("High", "High"), ("Medium", "Medium"), ("Low", "Low")],
        default="Low",
        help_text="Your own minimum, on top of the subscription's.",
    )

    class Meta:
        db_table = "alerts_notificationpreference"  # the table it had in the alerts app

    def __str__(self) -> str:
        return f"Notifications of {self.user}: {self.mode}"


class NotificationBatch(models.Model):
    """New alerts waiting to be planned for notification: written in the sync's transaction, deleted once planned.
    If the queue loses the planning task (a broker restart), the sweep (portal.recovery) finds the batch again."""

    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    alert_ids = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "alerts_notificationbatch"  # the table it had in the alerts app
        verbose_name_plural = "notification batches"

    def __str__(self) -> str:
        return f"{len(self.alert_ids)} new alerts of subscription {self.subscription_id}"


class Notification(models.Model):
    """The notification log: one row per (alert, recipient, kind), claimed before the mail is sent.

    kind "alert": the immediate mail of one alert; kind "digest": the alert is listed in a digest (digest_key groups
    the rows of one digest mail). A stable Message-ID per (alert, recipient, kind) makes a resend foldable.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for its window"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=254)  # lower-cased address
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10)  # alert | digest
    severity = models.CharField(max_length=20)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(max_length=300, blank=True)
    digest_key = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body_text = models.TextField(blank=True)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)  # queued: when its window reopens
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "alerts_notification"  # the table it had in the alerts app
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "recipient", "kind"], name="notification_once_per_alert_recipient"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "severity", "-sent_at"], name="notification_window_idx"),
            models.Index(fields=["state", "due_at"], name="notification_due_idx"),
            models.Index(fields=["-created_at"], name="notification_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of alert {self.alert_id} to {self.recipient}: {self.state}"
