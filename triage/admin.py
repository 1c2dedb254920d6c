"""Triage records in the admin, scoped by subscription role like everything else. Comments and incidents are
read-only here (they change through the portal's services, which audit them); webhooks can be switched on/off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin
from portal.audit.services import audit_record
from portal.web.http import signed_in_user
from triage.models import AlertComment, Incident, SavedView, Webhook, WebhookDelivery

if TYPE_CHECKING:
    _SavedViewAdminBase = admin.ModelAdmin[SavedView]
else:  # generic only in the stubs (no django_stubs_ext.monkeypatch at run time)
    _SavedViewAdminBase = admin.ModelAdmin


@admin.register(AlertComment)
class AlertCommentAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    subscription_field = "alert__subscription"
    list_display = ("alert", "author", "created_at", "edited_at")
    list_select_related = ("alert", "author")
    search_fields = ("body",)
    show_full_result_count = False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    list_display = ("title", "severity", "alert_count", "assignee", "subscription", "last_time")
    list_filter = ("severity", "subscription")
    list_select_related = ("assignee", "subscription")


@admin.register(Webhook)
class WebhookAdmin(SubscriptionScopedAdmin):
    """Created in the portal (which shows the signing secret once); here an admin can disable or enable one."""

    list_display = ("name", "subscription", "url", "enabled", "created_by", "created_at")
    list_filter = ("enabled", "subscription")
    fields = ("name", "subscription", "url", "events", "enabled")
    readonly_fields = ("name", "subscription", "url", "events")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=signed_in_user(request),
            action="webhook.update",
            obj=obj,
            after={"enabled": obj.enabled},
            request=request,
            subscription=obj.subscription_id,
        )

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        audit_record(
            actor=signed_in_user(request),
            action="webhook.delete",
            obj=obj,
            before={"name": obj.name, "url": obj.url},
            request=request,
            subscription=obj.subscription_id,
        )
        super().delete_model(request, obj)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    subscription_field = "webhook__subscription"
    list_display = ("webhook", "event", "state", "status_code", "attempts", "created_at")
    list_filter = ("state", "event")
    list_select_related = ("webhook",)


@admin.register(SavedView)
class SavedViewAdmin(ReadOnlyAdminMixin, _SavedViewAdminBase):
    """Saved views are per user; portal administrators can see them (and delete one through the portal)."""

    list_display = ("name", "owner", "shared", "created_at")
    list_filter = ("shared",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: SavedView | None = None) -> bool:
        return request.user.is_superuser
