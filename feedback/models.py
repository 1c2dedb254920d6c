""" "Was this useful?": one feedback per user per alert, editable, with its history kept."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# stored value -> label; the reasons offered depend on the answer.
NOT_USEFUL_REASONS = [
    ("AlertSeverityTooHigh", "The severity should be lower"),
    ("FalsePositive", "It flags too much normal activity"),
    ("Noise", "Too noisy, the same resources again and again"),
    ("NotRelevant", "This resource isn't relevant to monitor"),
    ("SpecificEntityFalsePositive", "Normal activity of this specific user, app or IP"),
    ("Unclear", "Not actionable, unclear how to investigate"),
    ("Other", "Other"),
]
USEFUL_REASONS = [
    ("TruePositive", "It found real malicious activity"),
    ("ExpectedActivity", "Suspicious but expected (a test, a known job)"),
    ("GoodContext", "The details made the investigation quick"),
    ("Other", "Other"),
]
REASON_LABELS = {**dict(NOT_USEFUL_REASONS), **dict(USEFUL_REASONS)}
TEXT_LIMIT = 2000


def reasons_for(useful: bool | None) -> list[tuple[str, str]]:
    return USEFUL_REASONS if useful else NOT_USEFUL_REASONS


class Feedback(models.Model):
    alert = models.ForeignKey("alerts.Alert", on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_feedback"
    )
    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    useful = models.BooleanField("Was this useful?")
    reason = models.CharField(max_length=40)
    text = models.TextField("Additional feedback", blank=True, max_length=TEXT_LIMIT)
    may_contact = models.BooleanField("The security team may email me about this feedback", default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="feedback_one_per_user_per_alert")
        ]
        indexes = [models.Index(fields=["subscription", "useful"]), models.Index(fields=["-updated_at"])]
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{'Useful' if self.useful else 'Not useful'}: {self.reason_label} ({self.user})"

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)


class FeedbackVersion(models.Model):
    """Every submitted version of a feedback (its history)."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="versions")
    useful = models.BooleanField()
    reason = models.CharField(max_length=40)
    text = models.TextField(blank=True)
    may_contact = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Version of {self.feedback_id} at {self.created_at:%Y-%m-%d %H:%M}"


class FeedbackReply(models.Model):
    """A Security Admin's email reply to feedback whose author consented to be contacted."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=TEXT_LIMIT * 2)
    sent_at = models.DateTimeField()
    message_id = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["sent_at"]
        verbose_name_plural = "feedback replies"

    def __str__(self) -> str:
        return f"Reply to feedback {self.feedback_id}"
