from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from alerts.models import (
    CLASSIFICATIONS,
    CLOSED_STATUSES,
    Alert,
    AlertEvent,
    MalformedAlert,
    Status,
    SuppressionRule,
)
from alerts.services import alerts_set_status_many
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


class StatusActionForm(ActionForm):
    """The changelist's action bar asks for the classification a close needs (once for all selected alerts)."""

    classification = forms.ChoiceField(
        choices=[("", "Classification (to resolve or dismiss)…"), *CLASSIFICATIONS], required=False
    )


def _status_action(status: str) -> Any:
    @admin.action(description=f"Set status to {Status(status).label} (written back to Azure)")
    def action(modeladmin: AlertAdmin, request: HttpRequest, queryset: Any) -> None:
        classification = request.POST.get("classification", "")
        if status in CLOSED_STATUSES and classification not in dict(CLASSIFICATIONS):
            messages.error(
                request, "Choose a classification next to the action to resolve or dismiss alerts."
            )
            return
        changed, refused = alerts_set_status_many(
            user=request.user,
            alerts=queryset.iterator(chunk_size=200),
            status=status,
            request=request,
            source="admin",
            classification=classification,
        )
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


class _RuleAdminFormBase(forms.ModelForm):
    """The admin's rule form: the model's fields plus the condition rows of the portal's form."""

    class Meta:
        model = SuppressionRule
        fields = [
            "subscription",
            "name",
            "alert_type",
            "state",
            "reason",
            "expiration_date",
            "comment",
            "local_only",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from alerts.rule_forms import CONDITION_ROWS, initial_conditions

        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("Enabled", "Enabled"), ("Disabled", "Disabled")]
        if self.instance.pk:
            self.initial.update(initial_conditions(self.instance.conditions))
        self.condition_rows = CONDITION_ROWS

    def clean(self) -> dict[str, Any]:
        from alerts.rule_forms import RuleForm
        from alerts.suppression_services import validate_rule

        data = super().clean()
        data["conditions"] = RuleForm.conditions_from(self, data)
        if not self.errors:
            # the service's own rules, so that the admin shows the same clear errors as the portal
            try:
                validate_rule({**data, "comment": data.get("comment") or ""})
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        return data


def _rule_form_fields() -> dict[str, Any]:
    """The portal form's condition rows and reasons, declared on the admin form (so the admin knows them)."""
    from alerts.rule_forms import RuleForm

    template = RuleForm(subscriptions=[])
    return {
        name: field
        for name, field in template.fields.items()
        if name == "reason" or (name.startswith("c") and name[1:2].isdigit())
    }


SuppressionRuleAdminForm = type("SuppressionRuleAdminForm", (_RuleAdminFormBase,), _rule_form_fields())


@admin.register(SuppressionRule)
class SuppressionRuleAdmin(SubscriptionScopedAdmin):
    """Rules are saved through the same services as the portal (so Azure is updated), scoped by role."""

    form = SuppressionRuleAdminForm
    list_display = (
        "name",
        "subscription",
        "alert_type",
        "state",
        "reason",
        "expiration_date",
        "suppressed_count",
        "last_match_at",
        "where",
    )
    list_filter = ("state", "subscription", "local_only", "in_azure")
    search_fields = ("name", "alert_type", "comment")
    actions = ["disable_rules"]
    readonly_fields = (
        "suppressed_count",
        "last_match_at",
        "in_azure",
        "synced_at",
        "push_state",
        "push_error",
        "created_by",
        "updated_by",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        from alerts.rule_forms import CONDITION_ROWS

        conditions = [f"c{i}_{part}" for i in range(CONDITION_ROWS) for part in ("field", "op", "value")]
        return [*SuppressionRuleAdminForm.Meta.fields, *conditions, *self.readonly_fields]

    @admin.display(description="Where")
    def where(self, obj: SuppressionRule) -> str:
        return "Portal only" if obj.local_only else ("Azure" if obj.in_azure else "Portal (saving to Azure)")

    def save_model(self, request: HttpRequest, obj: SuppressionRule, form: Any, change: bool) -> None:
        from alerts.suppression_services import rule_save

        d = form.cleaned_data
        existing = SuppressionRule.objects.get(pk=obj.pk) if change else None
        data = {
            "name": d["name"],
            "alert_type": d["alert_type"],
            "state": d["state"],
            "reason": d["reason"],
            "comment": d.get("comment") or "",
            "expiration_date": d.get("expiration_date"),
            "conditions": d["conditions"],
            "local_only": d.get("local_only", False),
        }
        subscription = access.subscription_get_for_user(request.user, d["subscription"].pk, write=True)
        try:
            saved = rule_save(
                user=request.user, subscription=subscription, data=data, rule=existing, request=request
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            raise
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: SuppressionRule) -> None:
        from alerts.suppression_services import rule_delete

        rule_delete(user=request.user, rule=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        from alerts.suppression_services import rule_delete

        for rule in queryset:
            if access.can_write(request.user, rule.subscription_id):
                rule_delete(user=request.user, rule=rule, request=request)

    @admin.action(description="Disable selected rules")
    def disable_rules(self, request: HttpRequest, queryset: Any) -> None:
        from alerts.suppression_services import rule_set_state

        done = 0
        for rule in queryset.select_related("subscription"):
            if access.can_write(request.user, rule.subscription_id) and rule.state != "Disabled":
                rule_set_state(user=request.user, rule=rule, state="Disabled", request=request)
                done += 1
        messages.info(request, f"{done} rule(s) disabled.")
