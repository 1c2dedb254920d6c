"""Defender plans per subscription (Microsoft.Security/pricings), as synced from Azure, plus pending writes."""

from __future__ import annotations

from django.db import models


class Pricing(models.Model):
    class Tier(models.TextChoices):
        FREE = "Free", "Off"
        STANDARD = "Standard", "On"

    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="pricings"
    )
    name = models.CharField(max_length=60)  # pricing name: KeyVaults, VirtualMachines...
    tier = models.CharField(max_length=20, choices=Tier.choices)
    sub_plan = models.CharField(max_length=60, blank=True)
    free_trial_remaining = models.DurationField(null=True, blank=True)
    free_trial_read_at = models.DateTimeField(null=True, blank=True)  # when Azure reported the remaining time
    enablement_time = models.DateTimeField(null=True, blank=True)
    deprecated = models.BooleanField(default=False)
    replaced_by = models.JSONField(default=list, blank=True)
    enforce = models.CharField(max_length=10, blank=True)
    inherited = models.CharField(max_length=10, blank=True)
    resources_coverage_status = models.CharField(max_length=30, blank=True)
    extensions = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=32, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # Write-back (portal-owned)
    pending_tier = models.CharField(max_length=20, blank=True)
    pending_sub_plan = models.CharField(max_length=60, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)
    pending_error = models.TextField(blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "Defender plan"
        constraints = [models.UniqueConstraint(fields=["subscription", "name"], name="pricing_unique_plan")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.tier}"

    @property
    def is_on(self) -> bool:
        return (self.pending_tier or self.tier) == self.Tier.STANDARD
