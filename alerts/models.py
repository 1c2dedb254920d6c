"""Security alerts as synced from Azure, and what the portal adds to them (pending status, activity).

Azure owns Azure's fields; the portal owns its own. An alert's identity is its lower-cased ARM `id`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from alerts import parsing
from portal.fields import FastJSONField


class Severity(models.TextChoices):
    HIGH = "High", "High"
    MEDIUM = "Medium", "Medium"
    LOW = "Low", "Low"
    INFORMATIONAL = "Informational", "Informational"


SEVERITY_RANK = parsing.SEVERITY_RANK  # High 4 … Informational 1; stored as Alert.severity_rank


class Status(models.TextChoices):
    ACTIVE = "Active", "Active"
    IN_PROGRESS = "InProgress", "In progress"
    RESOLVED = "Resolved", "Resolved"
    DISMISSED = "Dismissed", "Dismissed"


OPEN_STATUSES = (Status.ACTIVE, Status.IN_PROGRESS)
CLOSED_STATUSES = (Status.RESOLVED, Status.DISMISSED)
# Why an alert was closed (asked when an analyst resolves or dismisses it).
CLASSIFICATIONS = [
    ("TruePositive", "True positive (suspicious activity)"),
    ("BenignPositive", "Benign positive (suspicious but expected)"),
    ("FalsePositive", "False positive (incorrect alert logic / inaccurate data)"),
    ("Undetermined", "Undetermined"),
]


LOCAL_TYPE_PREFIX = (
    "LOCAL_"  # every local detection's alert type (accesslogs.kinds): how the rollup tells them apart
)


class Origin(models.TextChoices):
    """Who raised an alert: Defender (synced from Azure, status written back) or this console's own detectors over
    a vault's access log (accesslogs; never written to Azure: status, feedback and rules live only here)."""

    DEFENDER = "defender", "Microsoft Defender for Key Vault"
    LOCAL = "local", "Local detection"


class Alert(models.Model):
    # FK indexes are left to the composite indexes below (fewer indexes: faster sync inserts).
    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.PROTECT, related_name="alerts", db_index=False
    )
    vault = models.ForeignKey(
        "inventory.KeyVault",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        db_index=False,
    )
    # Lower-cased: ARM ids are case-insensitive. Unique through a constraint (see Meta), not `unique=True`, which on
    # PostgreSQL also builds a varchar_pattern_ops index for LIKE that nothing uses and every insert pays for.
    arm_id = models.CharField("Alert ID", max_length=600)
    azure_id = models.CharField(max_length=600)  # as Azure spells it (actions are addressed by it)
    name = models.CharField(max_length=300, blank=True)
    system_alert_id = models.CharField(max_length=300, blank=True)
    alert_type = models.CharField(max_length=200)
    title = models.TextField("Alert title", blank=True)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    severity_rank = models.PositiveSmallIntegerField(default=0)
    # The status the portal shows: Azure's, or the one an analyst set that is still being written back.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    azure_status = models.CharField(max_length=20, blank=True)
    intent = models.CharField("MITRE ATT&CK tactics", max_length=200, blank=True)
    plan = models.CharField(max_length=60, blank=True)  # pricing name: KeyVaults, VirtualMachines...
    product_component_name = models.CharField(max_length=100, blank=True)
    product_name = models.CharField(max_length=200, blank=True)
    vendor_name = models.CharField(max_length=100, blank=True)
    start_time = models.DateTimeField("Activity start time", null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    time_generated = models.DateTimeField("Detected time")
    processing_end_time = models.DateTimeField(null=True, blank=True)
    compromised_entity = models.CharField("Affected resource", max_length=500, blank=True)
    identity = models.CharField(
        "Identity", max_length=300, blank=True
    )  # UPN, else application, else object id
    caller_ip = models.CharField("Caller IP", max_length=64, blank=True)
    correlation_key = models.CharField(max_length=300, blank=True)
    is_incident = models.BooleanField(default=False)
    alert_uri = models.TextField(blank=True)
    techniques = FastJSONField(default=list, blank=True)
    sub_techniques = FastJSONField(default=list, blank=True)
    entities = FastJSONField(default=list, blank=True)
    extended_properties = FastJSONField(default=dict, blank=True)
    supporting_evidence = FastJSONField(null=True, blank=True)
    resource_identifiers = FastJSONField(default=list, blank=True)
    remediation_steps = FastJSONField(default=list, blank=True)
    extended_links = FastJSONField(default=list, blank=True)
    extra = FastJSONField(default=dict, blank=True)  # any property this version does not map, kept as is
    # Search helpers derived from the entities (lower-cased): IPs, UPNs, object ids, app ids, host names...
    search_text = models.TextField(blank=True)
    content_hash = models.CharField(max_length=32)
    in_azure = models.BooleanField(default=True)
    origin = models.CharField("Provider", max_length=10, choices=Origin.choices, default=Origin.DEFENDER)
    gone_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Status write-back (portal-owned): the status an analyst asked for, until Azure confirms it.
    pending_status = models.CharField(max_length=20, blank=True, choices=Status.choices)
    pending_since = models.DateTimeField(null=True, blank=True)
    pending_attempts = models.PositiveSmallIntegerField(default=0)
    pending_error = models.TextField(blank=True)
    pending_failed = models.BooleanField(default=False)
    # Team triage (portal-owned): who owns it, and how it was closed.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_alerts",
        db_index=False,  # partial indexes below: most alerts have no owner, a full index would be all NULLs
    )
    assignee_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_alerts",
        db_index=False,
    )
    classification = models.CharField(max_length=30, blank=True, choices=CLASSIFICATIONS)
    classification_comment = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # when an analyst resolved or dismissed it (MTTR)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    first_action_at = models.DateTimeField(null=True, blank=True)  # the first analyst action (MTTA)
    first_action_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = [
            # keyset pagination on (time_generated, id), scoped by status and subscription
            models.Index(fields=["-time_generated", "-id"], name="alert_time_idx"),
            models.Index(fields=["status", "-time_generated", "-id"], name="alert_status_time_idx"),
            models.Index(
                fields=["subscription", "status", "-time_generated", "-id"], name="alert_sub_status_time_idx"
            ),
            models.Index(fields=["-severity_rank", "-time_generated", "-id"], name="alert_sev_time_idx"),
            models.Index(fields=["vault", "-time_generated", "-id"], name="alert_vault_time_idx"),
            models.Index(fields=["alert_type", "-time_generated", "-id"], name="alert_type_time_idx"),
            models.Index(fields=["plan", "-time_generated", "-id"], name="alert_plan_time_idx"),
            models.Index(
                fields=["pending_status"], name="alert_pending_idx", condition=~Q(pending_status="")
            ),
            # incidents: grouped on every sync page, and an incident's alerts are those of its key
            models.Index(
                fields=["subscription", "correlation_key"],
                name="alert_sub_correlation_idx",
                condition=~Q(correlation_key=""),
            ),
            # related alerts and the search for an identity or an IP
            models.Index(
                fields=["identity", "-time_generated", "-id"],
                name="alert_identity_time_idx",
                condition=~Q(identity=""),
            ),
            models.Index(
                fields=["caller_ip", "-time_generated", "-id"],
                name="alert_ip_time_idx",
                condition=~Q(caller_ip=""),
            ),
            models.Index(
                fields=["-time_generated", "-id"], name="alert_local_time_idx", condition=Q(origin="local")
            ),
            models.Index(
                fields=["assignee", "-time_generated", "-id"],
                name="alert_assignee_time_idx",
                condition=Q(assignee__isnull=False),
            ),
            models.Index(
                fields=["assignee_group"], name="alert_group_idx", condition=Q(assignee_group__isnull=False)
            ),
            models.Index(
                fields=["closed_by"], name="alert_closed_by_idx", condition=Q(closed_by__isnull=False)
            ),
            models.Index(
                fields=["first_action_by"],
                name="alert_first_action_by_idx",
                condition=Q(first_action_by__isnull=False),
            ),
        ]
        constraints = [models.UniqueConstraint(fields=["arm_id"], name="alert_arm_id_unique")]
        ordering = ["-time_generated", "-id"]

    def __str__(self) -> str:
        return self.title or self.alert_type

    @property
    def is_local(self) -> bool:
        return self.origin == Origin.LOCAL


class MalformedAlert(models.Model):
    """An element of a list page that could not be parsed: kept with its raw JSON and the error, for inspection."""

    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    arm_id = models.CharField(max_length=600, blank=True)
    raw = models.TextField()
    error = models.TextField()
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    content_hash = models.CharField(max_length=32, unique=True)

    def __str__(self) -> str:
        return f"Malformed alert {self.arm_id or '(no id)'}: {self.error[:80]}"


class AlertRollup(models.Model):
    """Counts per day × severity × type × vault × subscription × status, kept current by sync and status changes."""

    day = models.DateField()
    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    vault_id = models.BigIntegerField(default=0)  # the KeyVault pk, 0 for none (no NULL: one bucket per key)
    severity = models.CharField(max_length=20)
    alert_type = models.CharField(max_length=200)
    plan = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=20)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "subscription", "vault_id", "severity", "alert_type", "plan", "status"],
                name="alertrollup_bucket",
            )
        ]
        indexes = [models.Index(fields=["subscription", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.severity} {self.alert_type} {self.status}: {self.count}"


class AlertEvent(models.Model):
    """The alert's activity: every analyst action (status change, feedback, suppression, comment...)."""

    class Kind(models.TextChoices):
        STATUS_REQUESTED = "status_requested", "Status change requested"
        STATUS_CONFIRMED = "status_confirmed", "Status change confirmed by Azure"
        STATUS_FAILED = "status_failed", "Status change failed"
        STATUS_UPSTREAM = "status_upstream", "Status changed in Azure"
        SUPPRESSED = "suppressed", "Dismissed by a suppression rule"
        FEEDBACK = "feedback", "Feedback"
        COMMENT = "comment", "Comment"
        ASSIGNED = "assigned", "Assigned"
        INCIDENT = "incident", "Added to an incident"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    data = FastJSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["alert", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on alert {self.alert_id}"


class BulkStatusJob(models.Model):
    """ "Change status of all N alerts matching this filter": processed server-side in batches by a task."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    query = models.TextField()  # the Security alerts filter, as its URL query string
    status = models.CharField(max_length=20, choices=Status.choices)
    classification = models.CharField(max_length=30, blank=True)
    comment = models.TextField(blank=True)
    total = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    last_id = models.BigIntegerField(default=0)  # resume point: alerts are processed in id order
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Set {self.total} alerts to {self.status}: {self.get_state_display()}"

    @property
    def progress_percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * (self.done + self.skipped) / self.total))
