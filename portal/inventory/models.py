"""Azure connection → Subscription → Key vault, named as the Azure portal names them."""

from __future__ import annotations

from django.db import models


class AuthMethod(models.TextChoices):
    CLIENT_SECRET = "client_secret", "Client secret"
    CERTIFICATE = "certificate", "Certificate"
    WORKLOAD_IDENTITY = "workload_identity", "Workload identity (federated token file)"
    ENVIRONMENT = "environment", "From the environment (AZURE_* variables)"
    DEFAULT = "default", "DefaultAzureCredential (operator-configured hosts only)"


class AzureConnection(models.Model):
    """A tenant and how the portal authenticates to it (a service principal)."""

    name = models.CharField(max_length=100, unique=True)
    tenant_id = models.CharField("Tenant ID", max_length=64)
    client_id = models.CharField("Application (client) ID", max_length=64, blank=True)
    auth_method = models.CharField(
        max_length=32, choices=AuthMethod.choices, default=AuthMethod.CLIENT_SECRET
    )
    # A secret is either a reference (the name of an environment variable holding it) or stored encrypted.
    secret_env_var = models.CharField(
        "Secret from environment variable",
        max_length=100,
        blank=True,
        help_text="Name of an environment variable that holds the client secret.",
    )
    secret_encrypted = models.TextField(blank=True, editable=False)
    certificate_path = models.CharField(max_length=500, blank=True)
    authority_host = models.CharField(
        "Authority host",
        max_length=300,
        blank=True,
        help_text="Empty: AZURE_AUTHORITY_HOST or Azure public cloud.",
    )
    arm_endpoint = models.CharField(
        "Resource Manager endpoint", max_length=300, blank=True, help_text="Empty: AZURE_ARM_ENDPOINT."
    )
    default_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Group granted the default role on subscriptions discovered later.",
    )
    default_role = models.CharField(
        max_length=20, blank=True, help_text="Empty: no role is granted automatically."
    )
    is_enabled = models.BooleanField(default=True)
    is_healthy = models.BooleanField(default=True)
    health_reason = models.TextField(blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "Azure connection"

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted or self.secret_env_var)


class Subscription(models.Model):
    connection = models.ForeignKey(AzureConnection, on_delete=models.PROTECT, related_name="subscriptions")
    subscription_id = models.CharField("Subscription ID", max_length=64, unique=True)  # lower-cased GUID
    display_name = models.CharField("Subscription name", max_length=300)
    state = models.CharField(max_length=40, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    in_azure = models.BooleanField(default=True)
    # The connections that saw it in the last discovery round, by name; `connection` is the one that syncs it.
    visible_through = models.JSONField(default=list, blank=True)
    first_sync_completed_at = models.DateTimeField(null=True, blank=True)
    last_sync_completed_at = models.DateTimeField(null=True, blank=True)
    # The last round's decision for it (sync.graph): listed and why, or skipped because Resource Graph saw no change.
    last_planned_at = models.DateTimeField(null=True, blank=True)
    last_plan = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name or self.subscription_id

    @property
    def arm_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}"


class KeyVault(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="key_vaults")
    arm_id = models.CharField("Resource ID", max_length=500, unique=True)  # lower-cased
    name = models.CharField(max_length=100)
    resource_group = models.CharField("Resource group", max_length=100)
    location = models.CharField(max_length=60)
    tenant_id = models.CharField("Directory ID", max_length=64, blank=True)
    sku = models.CharField("Pricing tier", max_length=20, blank=True)
    vault_uri = models.CharField("Vault URI", max_length=300, blank=True)
    enable_soft_delete = models.BooleanField("Soft-delete", null=True)
    soft_delete_retention_days = models.PositiveIntegerField("Days to retain deleted vaults", null=True)
    enable_purge_protection = models.BooleanField("Purge protection", null=True)
    enable_rbac_authorization = models.BooleanField("Azure role-based access control", null=True)
    public_network_access = models.CharField("Public network access", max_length=20, blank=True)
    network_default_action = models.CharField("Firewall default action", max_length=20, blank=True)
    network_bypass = models.CharField(max_length=60, blank=True)
    provisioning_state = models.CharField(max_length=30, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    in_azure = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["subscription", "name"])]
        verbose_name = "key vault"

    def __str__(self) -> str:
        return self.name
