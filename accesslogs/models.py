"""What the console keeps of a vault's access log (issue 24).

- `LogCollection`: the diagnostic setting this console asked Azure for on a vault (category AuditEvent, to a storage
  account of the vault's region), written back like every other change: pending, then confirmed by reading the
  setting back, or refused with Azure's message. Turning it off deletes the setting the same way.
- `BlobCursor`: where the last read of one hourly blob stopped (accesslogs.cursor.Cursor, stored).
- `DetectorState`: one subscription's detector (baselines, first-seen tables, the records of open bursts), pickled:
  bounded by identities, not records. It is written in the transaction that advances the cursors and stores the
  detections they produced, so a killed worker loses and repeats nothing. The pickle is written and read only by the
  console's own workers (never from Azure or a user).
- `LocalEvidence`: a local detection's explanation and the records that made it (the lines as stored in the blob).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LogCollection(models.Model):
    class State(models.TextChoices):
        PENDING_ON = "pending-on", "Being turned on"
        ON = "on", "On"
        PENDING_OFF = "pending-off", "Being turned off"
        OFF = "off", "Off"

    vault = models.OneToOneField(
        "inventory.KeyVault", on_delete=models.CASCADE, related_name="log_collection"
    )
    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    setting_name = models.CharField(max_length=100, default="kv-console-auditevent")
    storage_account_id = models.CharField("Storage account", max_length=600)
    storage_account_name = models.CharField(max_length=100)
    blob_endpoint = models.CharField(max_length=600)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING_ON)
    pending_since = models.DateTimeField(null=True, blank=True)
    pending_error = models.TextField(blank=True)  # a transient failure, retried
    last_error = models.TextField(blank=True)  # Azure's refusal of the last change
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    first_day = models.DateField(null=True, blank=True)  # the first UTC day read (the day it was turned on)
    oldest_unfinished_day = models.DateField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_poll_error = models.TextField(blank=True)
    records_read = models.BigIntegerField(default=0)
    malformed_lines = models.BigIntegerField(default=0)
    detections = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["state"], name="logcollection_state_idx")]

    def __str__(self) -> str:
        return f"access logs of {self.vault_id} ({self.state})"

    @property
    def pending(self) -> bool:
        return self.state in (self.State.PENDING_ON, self.State.PENDING_OFF)


class BlobCursor(models.Model):
    collection = models.ForeignKey(LogCollection, on_delete=models.CASCADE, related_name="cursors")
    blob = models.CharField(max_length=1024)
    offset = models.BigIntegerField(default=0)
    lines = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True)
    size_seen = models.BigIntegerField(default=0)
    grown_at = models.DateTimeField(null=True, blank=True)
    finished = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "blob"], name="blobcursor_collection_blob_unique")
        ]

    def __str__(self) -> str:
        return f"{self.blob}@{self.offset}"


class DetectorState(models.Model):
    subscription = models.OneToOneField(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    state = models.BinaryField(default=b"")
    records = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"detector of subscription {self.pk}"


class LocalEvidence(models.Model):
    alert = models.OneToOneField("alerts.Alert", on_delete=models.CASCADE, related_name="local_evidence")
    collection = models.ForeignKey(LogCollection, on_delete=models.SET_NULL, null=True, related_name="+")
    detection_type = models.CharField(max_length=60)
    identity = models.CharField(max_length=200, blank=True)
    explanation = models.TextField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    records = models.JSONField(default=list)  # the evidence: each record as stored in the blob (parsed JSON)

    def __str__(self) -> str:
        return self.explanation


class StorageListing(models.Model):
    """When a subscription's storage accounts were last asked of ARM (by a task: pages never call Azure), and what
    answered. A refresh is requested when someone opens Collect access logs and the list is older than a few
    minutes; the page settles in place when it is listed."""

    subscription = models.OneToOneField(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"storage accounts of subscription {self.pk}"

    @property
    def pending(self) -> bool:
        return self.requested_at is not None and (
            self.listed_at is None or self.listed_at < self.requested_at
        )


class StorageAccount(models.Model):
    """A storage account of a subscription as ARM listed it: where a vault of its region may send its log."""

    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    arm_id = models.CharField(max_length=600)  # as ARM spells it (the diagnostic setting names it so)
    name = models.CharField(max_length=100)
    location = models.CharField(max_length=60)
    blob_endpoint = models.CharField(max_length=600, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "name"], name="storageaccount_subscription_name_unique"
            )
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
