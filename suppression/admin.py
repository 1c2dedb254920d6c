"""Suppression rules in the admin: saved through the same services as the portal, scoped by role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.accounts import selectors as access
from portal.accounts.admin_scoping import SubscriptionScopedAdmin
from portal.web.http import signed_in_user
from suppression.forms import CONDITION_ROWS, RuleForm, choice_field, initial_conditions
from suppression.models import SuppressionRule
from suppression.services import rule_delete, rule_save, rule_set_state, validate_rule

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups

    _ModelForm = forms.ModelForm[SuppressionRule]
else:
    _ModelForm = forms.ModelForm  # generic only in the stubs (no django_stubs_ext.monkeypatch at run time)


class _RuleAdminFormBase(_ModelForm):
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
        super().__init__(*args, **kwargs)
        choice_field(self, "state").choices = [("Enabled", "Enabled"), ("Disabled", "Disabled")]
        # the alert types from the catalog, by name (a type seen only in Azure stays choosable on its own rule)
        types = RuleForm(subscriptions=[], seen_types=[self.instance.alert_type] if self.instance.pk else [])
        choice_field(self, "alert_type").choices = choice_field(types, "alert_type").choices
        if self.instance.pk:
            self.initial.update(initial_conditions(self.instance.conditions))
        self.condition_rows = CONDITION_ROWS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # ModelForm.clean returns cleaned_data (the stubs allow None for overrides)
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
    template = RuleForm(subscriptions=[])
    return {
        name: field
        for name, field in template.fields.items()
        if name in ("reason", "alert_type") or (name.startswith("c") and name[1:2].isdigit())
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

    def get_fields(self, request: HttpRequest, obj: SuppressionRule | None = None) -> _FieldGroups:

        conditions = [f"c{i}_{part}" for i in range(CONDITION_ROWS) for part in ("field", "op", "value")]
        # the admin form's Meta is its base's (the form is built with type() above)
        return [*_RuleAdminFormBase.Meta.fields, *conditions, *self.readonly_fields]

    @admin.display(description="Where")
    def where(self, obj: SuppressionRule) -> str:
        return "Portal only" if obj.local_only else ("Azure" if obj.in_azure else "Portal (saving to Azure)")

    def save_model(
        self, request: HttpRequest, obj: SuppressionRule, form: _RuleAdminFormBase, change: bool
    ) -> None:

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
        user = signed_in_user(request)
        subscription = access.subscription_get_for_user(user, d["subscription"].pk, write=True)
        try:
            saved = rule_save(user=user, subscription=subscription, data=data, rule=existing, request=request)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            raise
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: SuppressionRule) -> None:

        rule_delete(user=signed_in_user(request), rule=obj, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SuppressionRule]) -> None:

        user = signed_in_user(request)
        for rule in queryset:
            if access.can_write(user, rule.subscription_id):
                rule_delete(user=user, rule=rule, request=request)

    @admin.action(description="Disable selected rules")
    def disable_rules(self, request: HttpRequest, queryset: QuerySet[SuppressionRule]) -> None:

        user = signed_in_user(request)
        done = 0
        for rule in queryset.select_related("subscription"):
            if access.can_write(user, rule.subscription_id) and rule.state != "Disabled":
                rule_set_state(user=user, rule=rule, state="Disabled", request=request)
                done += 1
        messages.info(request, f"{done} rule(s) disabled.")
