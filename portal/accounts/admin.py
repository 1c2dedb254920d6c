from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.accounts import selectors as access
from portal.accounts import services
from portal.accounts.admin_scoping import SubscriptionScopedAdmin
from portal.accounts.models import GRANT_RANK, RoleAssignment, UserPreference


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(SubscriptionScopedAdmin):
    """Owners grant roles here as on the portal's Access control page, through the same service."""

    write_rank = GRANT_RANK
    list_display = ("subscription", "user", "group", "role", "granted_by", "created_at")
    list_filter = ("role", "subscription")
    search_fields = ("user__username", "group__name", "subscription__display_name")
    fields = ("subscription", "user", "group", "role")
    autocomplete_fields = ()

    def save_model(self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool) -> None:
        if change:
            # Changing who/where is a revoke + grant; changing the role is a grant over the same principal.
            original = RoleAssignment.objects.get(pk=obj.pk)
            if (original.user_id, original.group_id, original.subscription_id) != (
                obj.user_id,
                obj.group_id,
                obj.subscription_id,
            ):
                services.role_revoke(actor=request.user, assignment=original, request=request)
        saved = services.role_grant(
            actor=request.user,
            subscription=obj.subscription,
            role=obj.role,
            user=obj.user,
            group=obj.group,
            request=request,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        services.role_revoke(actor=request.user, assignment=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            if access.can_grant(request.user, obj.subscription_id):
                services.role_revoke(actor=request.user, assignment=obj, request=request)


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "timezone", "timezone_from_browser", "theme")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser
