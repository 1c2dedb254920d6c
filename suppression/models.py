"""Alert suppression rules, and which alerts each dismissed."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.fields import FastJSONField


class SuppressionRule(models.Model):
    """Mirrors Azure's alertsSuppressionRules (2019-01-01-preview), plus the portal's own (local-only) rules."""

    class State(models.TextChoices):
        ENABLED = "Enabled", "Enabled"
        DISABLED = "Disabled", "Disabled"
        EXPIRED = "Expired", "Expired"

    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.PROTECT, related_name="suppression_rules"
    )
    name = models.CharField(max_length=50)
    alert_type = models.CharField(max_length=200)
    reason = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.ENABLED)
    comment = models.TextField(blank=True)
    expiration_date = models.DateTimeField(null=True, blank=True)
    conditions = FastJSONField(default=list, blank=True)  # suppressionAlertsScope.allOf
    last_modified_utc = models.DateTimeField(null=True, blank=True)  # Azure's
    in_azure = models.BooleanField("In Azure", default=False)
    local_only = models.BooleanField(
        "Local only", default=False, help_text="Applied by this portal, not created in Azure."
    )
    synced_at = models.DateTimeField("Last in step with Azure", null=True, blank=True)
    local_modified_at = models.DateTimeField(null=True, blank=True)  # changed here since the last sync
    push_state = models.CharField(max_length=20, blank=True)  # "", "pending", "failed"
    push_error = models.TextField(blank=True)
    content_hash = models.CharField(max_length=32, blank=True)
    suppressed_count = models.PositiveIntegerField("Alerts suppressed", default=0)
    last_match_at = models.DateTimeField("Last match", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "name"], name="suppressionrule_unique_name")
        ]
        ordering = ["name"]
        db_table = "alerts_suppressionrule"  # the table it had when rules lived in the alerts app

    def __str__(self) -> str:
        return self.name


class SuppressedAlert(models.Model):
    """An alert a rule dismissed (the link is this app's: alerts know nothing of rules)."""

    alert = models.OneToOneField(
        "alerts.Alert", on_delete=models.CASCADE, primary_key=True, related_name="suppression"
    )
    rule = models.ForeignKey(SuppressionRule, on_delete=models.CASCADE, related_name="suppressed_alerts")
    suppressed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["rule", "-suppressed_at"], name="suppressed_rule_idx")]

    def __str__(self) -> str:
        return f"Alert {self.alert_id} suppressed by rule {self.rule_id}"
