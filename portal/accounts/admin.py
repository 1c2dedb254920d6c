from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.accounts import selectors as access
from portal.accounts import services
from portal.accounts.admin_scoping import SubscriptionScopedAdmin
from portal.accounts.models import GRANT_RANK, RoleAssignment, SsoIdentity, UserPreference
from portal.web.http import signed_in_user

if TYPE_CHECKING:  # ModelAdmin is generic in django-stubs only (not subscriptable at run time)
    _UserPreferenceAdminBase = admin.ModelAdmin[UserPreference]
    _SsoIdentityAdminBase = admin.ModelAdmin[SsoIdentity]
else:
    _UserPreferenceAdminBase = _SsoIdentityAdminBase = admin.ModelAdmin


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(SubscriptionScopedAdmin[RoleAssignment]):
    """Owners grant roles here as on the portal's Access control page, through the same service."""

    write_rank = GRANT_RANK
    list_display = ("subscription", "user", "group", "role", "granted_by", "created_at")
    list_filter = ("role", "subscription")
    search_fields = ("user__username", "group__name", "subscription__display_name")
    fields = ("subscription", "user", "group", "role")
    autocomplete_fields = ()

    def save_model(self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool) -> None:
        actor = signed_in_user(request)
        if change:
            # Changing who/where is a revoke + grant; changing the role is a grant over the same principal.
            original = RoleAssignment.objects.get(pk=obj.pk)
            if (original.user_id, original.group_id, original.subscription_id) != (
                obj.user_id,
                obj.group_id,
                obj.subscription_id,
            ):
                services.role_revoke(actor=actor, assignment=original, request=request)
        saved = services.role_grant(
            actor=actor,
            subscription=obj.subscription,
            role=obj.role,
            user=obj.user,
            group=obj.group,
            request=request,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        services.role_revoke(actor=signed_in_user(request), assignment=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleAssignment]) -> None:
        actor = signed_in_user(request)
        for obj in queryset:
            if access.can_grant(actor, obj.subscription_id):
                services.role_revoke(actor=actor, assignment=obj, request=request)


@admin.register(UserPreference)
class UserPreferenceAdmin(_UserPreferenceAdminBase):
    list_display = ("user", "timezone", "timezone_from_browser", "theme")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(SsoIdentity)
class SsoIdentityAdmin(_SsoIdentityAdminBase):
    """Administrators (superusers) link a Microsoft account to an existing portal account here, by the person's
    tenant id and object id (the id_token's tid and oid); the only way to link a superuser. Through the services:
    audited."""

    list_display = (
        "user",
        "upn",
        "tenant_id",
        "object_id",
        "linked_how",
        "linked_by",
        "linked_at",
        "last_sign_in_at",
    )
    list_filter = ("linked_how",)
    search_fields = ("user__username", "user__email", "upn")
    readonly_fields = ("linked_how", "linked_by", "linked_at", "last_sign_in_at")
    fieldsets = (
        (
            None,
            {
                "description": (
                    "Link a person's Microsoft Entra ID account to a portal account: enter their Directory (tenant) "
                    "ID and their Object ID (Microsoft Entra admin center → Users → the user → Overview). Their next "
                    "“Sign in with Microsoft” signs them in as this account. Names and e-mail addresses are never "
                    "matched."
                ),
                "fields": ("user", "tenant_id", "object_id", "upn"),
            },
        ),
        ("Link", {"fields": ("linked_how", "linked_by", "linked_at", "last_sign_in_at")}),
    )

    def _admin(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin(request)

    def save_model(self, request: HttpRequest, obj: SsoIdentity, form: Any, change: bool) -> None:
        actor = signed_in_user(request)
        if change:  # a different account or person: unlink, then link (both audited)
            original = SsoIdentity.objects.select_related("user").get(pk=obj.pk)
            services.sso_identity_unlink(actor=actor, identity=original, request=request)
        saved = services.sso_identity_link(
            actor=actor,
            user=obj.user,
            tenant_id=obj.tenant_id,
            object_id=obj.object_id,
            how=SsoIdentity.LinkedHow.ADMIN,
            upn=obj.upn,
            request=request,
        )
        obj.pk = saved.pk
        obj.linked_how, obj.linked_by, obj.linked_at = saved.linked_how, saved.linked_by, saved.linked_at

    def delete_model(self, request: HttpRequest, obj: SsoIdentity) -> None:
        services.sso_identity_unlink(actor=signed_in_user(request), identity=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SsoIdentity]) -> None:
        actor = signed_in_user(request)
        for obj in queryset.select_related("user"):
            services.sso_identity_unlink(actor=actor, identity=obj, request=request)
