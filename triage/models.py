"""Triage as a team: comments, incidents, saved views, webhooks. (Assignment and close reasons live on the Alert.)"""

from __future__ import annotations

from django.conf import settings
from django.db import models

COMMENT_LIMIT = 10_000
WEBHOOK_EVENTS = [
    ("alert.created", "Alert created"),
    ("alert.status_changed", "Alert status changed"),
    ("alert.assigned", "Alert assigned"),
]


class AlertComment(models.Model):
    """Plain text, editable by its author for a short while, kept forever."""

    alert = models.ForeignKey("alerts.Alert", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=COMMENT_LIMIT)
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["alert", "created_at"])]

    def __str__(self) -> str:
        return f"Comment by {self.author} on alert {self.alert_id}"


class Incident(models.Model):
    """Alerts sharing a correlationKey (or grouped by Azure as an incident), triaged together."""

    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="incidents"
    )
    correlation_key = models.CharField(max_length=300)
    title = models.CharField(max_length=500)
    severity = models.CharField(max_length=20)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_time = models.DateTimeField()
    last_time = models.DateTimeField()
    alert_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "correlation_key"], name="incident_unique_key")
        ]
        ordering = ["-last_time"]

    def __str__(self) -> str:
        return self.title


class SavedView(models.Model):
    """A filter of the Security alerts page saved under a name, private or shared with the team."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    query = models.TextField()  # the list's query string
    shared = models.BooleanField("Shared with the team", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="savedview_unique_name")]

    def __str__(self) -> str:
        return self.name


class Webhook(models.Model):
    """A signed JSON POST to an automation endpoint (SOAR, chat) when alerts change, per subscription."""

    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="webhooks"
    )
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Start and end of the last attempt, or the last time the recovery sweep queued it again: a pending delivery
    # untouched for longer than its longest backoff lost its message; one "sending" for that long lost its worker.
    touched_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["webhook", "-created_at"]),
            models.Index(
                fields=["touched_at"],
                condition=models.Q(state__in=["pending", "sending"]),
                name="triage_delivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook}: {self.state}"
