from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from alerts.models import Alert, AlertEvent, MalformedAlert, Status
from alerts.services import alert_set_status
from portal.accounts import selectors as access
from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _status_action(status: str) -> Any:
    @admin.action(description=f"Set status to {Status(status).label} (written back to Azure)")
    def action(modeladmin: AlertAdmin, request: HttpRequest, queryset: Any) -> None:
        changed = refused = 0
        for alert in queryset.iterator(chunk_size=200):
            if access.can_write(request.user, alert.subscription_id):
                alert_set_status(
                    user=request.user, alert=alert, status=status, request=request, source="admin"
                )
                changed += 1
            else:
                refused += 1
        messages.info(
            request, f"{changed} alert(s) set to {Status(status).label}; {refused} refused (read-only role)."
        )

    action.__name__ = f"set_{status.lower()}"
    return action


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    """Alerts are Azure's: read-only here, except status changes, which go through the same write-back."""

    list_display = (
        "title",
        "severity",
        "status",
        "pending_status",
        "alert_type",
        "vault",
        "subscription",
        "time_generated",
    )
    list_filter = ("severity", "status", "plan", "subscription")
    search_fields = ("title", "arm_id", "alert_type")
    date_hierarchy = "time_generated"
    list_select_related = ("vault", "subscription")
    show_full_result_count = False
    inlines = [AlertEventInline]
    actions = [_status_action(s) for s in Status.values]
    exclude = ("search_text",)


@admin.register(MalformedAlert)
class MalformedAlertAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    """Elements Azure sent that could not be parsed, kept with their raw JSON and the error."""

    list_display = ("arm_id", "error", "subscription", "first_seen_at", "last_seen_at")
    list_filter = ("subscription",)
