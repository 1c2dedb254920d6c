"""What the sync records: one row per run of one subscription, and the lease that keeps runs of a subscription
one at a time."""

from __future__ import annotations

from django.db import models


class SyncRun(models.Model):
    """One sync of one subscription (recorded whatever its outcome)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="sync_runs"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=30, default="schedule")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    arm_calls = models.PositiveIntegerField(default=0)
    alerts_new = models.PositiveIntegerField(default=0)
    alerts_changed = models.PositiveIntegerField(default=0)
    alerts_unchanged = models.PositiveIntegerField(default=0)
    alerts_malformed = models.PositiveIntegerField(default=0)
    alerts_gone = models.PositiveIntegerField(default=0)
    vaults = models.PositiveIntegerField(default=0)
    fetch_seconds = models.FloatField(default=0)  # waiting for and parsing Azure's pages
    store_seconds = models.FloatField(default=0)  # parsing elements into rows and upserting them
    # Where the time went, per stage of the run: {"incidents": {"seconds", "statements", "calls"}, ...}
    stages = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    # Resume point: the continuation token (nextLink) after the last completed page.
    resume_token = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "inventory_syncrun"  # the model moved here from the inventory; its table kept its name
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["subscription", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.subscription} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncLease(models.Model):
    """At most one sync per subscription at a time; a crashed worker's lease expires."""

    subscription = models.OneToOneField(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="lease"
    )
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "inventory_synclease"

    def __str__(self) -> str:
        return f"Sync lease of {self.subscription_id} held by {self.holder or 'nobody'}"
