"""Roles per subscription (mirroring Azure's built-in roles) and per-user preferences."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
        who = self.user.get_username() if self.user_id else f"group {self.group}"
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

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
