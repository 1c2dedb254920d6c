from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.models import (
    CLASSIFICATIONS,
    CLOSED_STATUSES,
    Alert,
    AlertEvent,
    MalformedAlert,
    Status,
)
from alerts.status import Source, alerts_set_status
from portal.accounts.admin_scoping import ReadOnlyAdminMixin, SubscriptionScopedAdmin

if TYPE_CHECKING:  # the admin's classes are generic in django-stubs only (not subscriptable at run time)
    _AlertEventInlineBase = admin.TabularInline[AlertEvent, Alert]
else:
    _AlertEventInlineBase = admin.TabularInline


class AlertEventInline(_AlertEventInlineBase):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False


class ClassificationForm(forms.Form):
    classification = forms.ChoiceField(choices=[("", ""), *CLASSIFICATIONS], required=False)


class StatusActionForm(ActionForm):
    """The changelist's action bar asks for the classification a close needs (once for all selected alerts)."""

    classification = forms.ChoiceField(
        choices=[("", "Classification (to resolve or dismiss)…"), *CLASSIFICATIONS], required=False
    )


def _status_action(status: str) -> Any:
    @admin.action(description=f"Set status to {Status(status).label} (written back to Azure)")
    def action(modeladmin: AlertAdmin, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        assert isinstance(request.user, User)  # the admin site lets only signed-in staff in
        form = ClassificationForm(request.POST)  # the action bar's classification, beside the action
        classification = form.cleaned_data.get("classification", "") if form.is_valid() else ""
        if status in CLOSED_STATUSES and not classification:
            messages.error(
                request, "Choose a classification next to the action to resolve or dismiss alerts."
            )
            return
        result = alerts_set_status(
            actor=request.user,
            alert_ids=queryset.values_list("pk", flat=True),
            status=status,
            request=request,
            source=Source.ADMIN,
            classification=classification,
        )
        changed, refused = len(result.changed) + result.unchanged, result.refused
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
    action_form = StatusActionForm
    exclude = ("search_text",)


@admin.register(MalformedAlert)
class MalformedAlertAdmin(ReadOnlyAdminMixin, SubscriptionScopedAdmin):
    """Elements Azure sent that could not be parsed, kept with their raw JSON and the error."""

    list_display = ("arm_id", "error", "subscription", "first_seen_at", "last_seen_at")
    list_filter = ("subscription",)
