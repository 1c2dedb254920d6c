"""Administrators see every API token and revoke any (the token itself is never stored or shown)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.accounts.admin_scoping import ReadOnlyAdminMixin
from portal.api.models import ApiToken
from portal.api.services import token_revoke
from portal.web.http import signed_in_user

if TYPE_CHECKING:  # ModelAdmin is generic in django-stubs only (not subscriptable at run time)
    _ApiTokenAdminBase = admin.ModelAdmin[ApiToken]
else:
    _ApiTokenAdminBase = admin.ModelAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, _ApiTokenAdminBase):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    actions = ["revoke"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        user = signed_in_user(request)
        for token in queryset:
            token_revoke(user=user, token=token, request=request)
        messages.success(request, f"{queryset.count()} token(s) revoked.")
