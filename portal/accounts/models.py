"""Roles per subscription (mirroring Azure's built-in roles) and per-user preferences."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Role(models.TextChoices):
    READER = "reader", "Reader"
    SECURITY_READER = "security_reader", "Security Reader"
    SECURITY_ADMIN = "security_admin", "Security Admin"
    OWNER = "owner", "Owner"


# What each role may do. Reader and Security Reader see; Security Admin also changes (alerts, rules, plans,
# email settings); Owner also grants roles.
ROLE_RANK: dict[str, int] = {
    Role.READER: 10,
    Role.SECURITY_READER: 20,
    Role.SECURITY_ADMIN: 30,
    Role.OWNER: 40,
}
WRITE_RANK = ROLE_RANK[Role.SECURITY_ADMIN]
GRANT_RANK = ROLE_RANK[Role.OWNER]


class RoleAssignment(models.Model):
    """A role on one subscription, granted to a user or to a Django group."""

    subscription = models.ForeignKey(
        "inventory.Subscription", on_delete=models.CASCADE, related_name="role_assignments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False)
                ),
                name="roleassignment_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["subscription", "user"],
                condition=Q(user__isnull=False),
                name="roleassignment_unique_user",
            ),
            models.UniqueConstraint(
                fields=["subscription", "group"],
                condition=Q(group__isnull=False),
                name="roleassignment_unique_group",
            ),
        ]
        ordering = ["subscription", "role"]

    def __str__(self) -> str:
        user = self.user if self.user_id else None
        who = user.get_username() if user is not None else f"group {self.group}"
        return f"{who}: {self.get_role_display()} on {self.subscription}"


class UserPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    timezone = models.CharField(max_length=64, blank=True, help_text="Empty: taken from the browser.")
    timezone_from_browser = models.BooleanField(default=True)
    theme = models.CharField(
        max_length=10,
        choices=[("auto", "Follow the OS"), ("light", "Light"), ("dark", "Dark")],
        default="auto",
    )
    keyboard_shortcuts = models.BooleanField(
        default=True,
        help_text="Single-key shortcuts (j/k, x, a, /, ?): off for users of speech input (WCAG 2.1.4).",
    )
    alerts_chart_open = models.BooleanField(
        default=False, help_text="The Security alerts list shows its 30-day chart open."
    )

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class SsoIdentity(models.Model):
    """The Microsoft Entra ID account (single sign-on) bound to a portal account: the id_token's immutable tenant id
    (`tid`) and object id (`oid`), never its user name or e-mail (mutable, and not unique across tenants).

    One per portal account. Made when an administrator enters them here, when the person proved the portal account
    with its password and confirmed the link, or when OIDC_CREATE_USERS made the account at their first sign-in.
    """

    class LinkedHow(models.TextChoices):
        ADMIN = "admin", "Entered by an administrator"
        PASSWORD = "password", "Confirmed by the user with the account's password"
        CREATED = "created", "Account created at the first Microsoft sign-in"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    tenant_id = models.UUIDField(
        "tenant id", help_text="Entra ID's Directory (tenant) ID: the token's tid claim."
    )
    object_id = models.UUIDField(
        "object id",
        help_text="The user's Object ID in that tenant (Entra ID → Users): the token's oid claim.",
    )
    upn = models.CharField(
        "Microsoft user name",
        max_length=254,
        blank=True,
        help_text="What Microsoft last called the user (preferred_username); information only, never matched.",
    )
    linked_at = models.DateTimeField(default=timezone.now, editable=False)
    linked_how = models.CharField(max_length=10, choices=LinkedHow.choices, editable=False)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_sign_in_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "Microsoft sign-in (SSO identity)"
        verbose_name_plural = "Microsoft sign-ins (SSO identities)"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "object_id"],
                name="ssoidentity_unique_tenant_object",
                violation_error_message="This Microsoft account (tenant id, object id) is already linked.",
            ),
        ]
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.upn or self.object_id} (tenant {self.tenant_id}) → {self.user}"
