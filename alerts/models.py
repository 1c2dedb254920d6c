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
    suppressed_by = models.ForeignKey(
        "alerts.SuppressionRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suppressed_alerts",
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
            models.Index(
                fields=["suppressed_by"],
                name="alert_suppressed_idx",
                condition=Q(suppressed_by__isnull=False),
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


class SuppressionRule(models.Model):
    """Mirrors Azure's alertsSuppressionRules (2019-01-01-preview). Full behaviour comes with suppression rules."""

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

    def __str__(self) -> str:
        return self.name


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

    def __str__(self) -> str:
        return f"Security contact of {self.subscription}"

    @property
    def email_list(self) -> list[str]:
        return [e.strip() for e in self.emails.replace(",", ";").split(";") if e.strip()]


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

    def __str__(self) -> str:
        return f"Notifications of {self.user}: {self.mode}"


class NotificationBatch(models.Model):
    """New alerts waiting to be planned for notification: written in the sync's transaction, deleted once planned.
    If the queue loses the planning task (a broker restart), the sweep (alerts.recovery) finds the batch again."""

    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    alert_ids = models.JSONField()
    created_at = models.DateTimeField()

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
