"""The suppression rule form (portal and admin): conditions as rows of field / operator / value(s)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.forms import BoundField

from alerts.catalog import KEY_VAULT_ALERT_TYPES
from alerts.models import Alert
from alerts.parsing import entity_type, entity_value
from portal.web.formfields import (
    BoundedIntegerField,
    DateField,
    IsoDateInput,
    MultiLineField,
    SingleLineField,
)
from suppression.models import SuppressionRule
from suppression.rules import AZURE_FIELDS, LOCAL_FIELDS, REASONS

LOCAL_FIELD_NAMES = {f for f, _ in LOCAL_FIELDS}

CONDITION_ROWS = 5
OPERATORS = [("equals", "Equals"), ("contains", "Contains")]


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """A field the form declares as a choice field (to set its choices per request)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)  # declared so on the form
    return field


class RuleForm(forms.Form):
    subscription = forms.TypedChoiceField(label="Subscription", coerce=int)
    name = SingleLineField(
        label="Rule name",
        max_length=50,
        help_text="2–50 characters: letters, digits, - and _, starting with a letter or a digit.",
    )
    alert_type = forms.ChoiceField(label="Alert type")
    state = forms.ChoiceField(label="State", choices=[("Enabled", "Enabled"), ("Disabled", "Disabled")])
    reason = forms.ChoiceField(label="Reason", choices=[("", "Choose a reason"), *REASONS])
    expiration_date = DateField(
        label="Expiration date",
        required=False,
        widget=IsoDateInput(),
        help_text="Optional. The rule stops suppressing at the end of this day (UTC).",
    )
    comment = MultiLineField(
        label="Comment",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Why the rule exists. Required when the reason is Other.",
    )
    local_only = forms.BooleanField(
        label="Keep this rule in the portal only (don't create it in Azure)", required=False
    )
    # Suppress similar alerts: conditions Azure's rules cannot express, offered as an explicit opt-in ("field|value")
    portal_only = forms.MultipleChoiceField(
        label="Also match (portal only)", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self,
        *args: Any,
        subscriptions: list[tuple[int, str]],
        seen_types: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        portal_only = kwargs.pop("portal_only", None) or []
        super().__init__(*args, **kwargs)
        choice_field(self, "subscription").choices = [(pk, name) for pk, name in subscriptions]
        offered = list(portal_only)
        for value in self.data.getlist("portal_only") if hasattr(self.data, "getlist") else []:
            field_name, _, item = value.partition("|")
            if field_name in LOCAL_FIELD_NAMES and item and value not in {v for v, _ in offered}:
                offered.append((value, f"{dict(LOCAL_FIELDS)[field_name]} = {item}"))
        choice_field(self, "portal_only").choices = offered
        known = [(t.alert_type, f"{t.display_name} ({t.alert_type})") for t in KEY_VAULT_ALERT_TYPES]
        known_types = {t for t, _ in known}
        extra = [(t, t) for t in sorted(set(seen_types or [])) if t not in known_types]
        choice_field(self, "alert_type").choices = [("*", "All alert types (*)"), *known, *extra]
        field_choices = [("", "—"), ("Azure fields", AZURE_FIELDS), ("Portal-only fields", LOCAL_FIELDS)]
        for i in range(CONDITION_ROWS):
            self.fields[f"c{i}_field"] = forms.ChoiceField(
                label=f"Condition {i + 1}: entity field", required=False, choices=field_choices
            )
            self.fields[f"c{i}_op"] = forms.ChoiceField(
                label=f"Condition {i + 1}: operator", required=False, choices=OPERATORS
            )
            self.fields[f"c{i}_value"] = SingleLineField(
                label=f"Condition {i + 1}: value(s)",
                required=False,
                max_length=2000,
                help_text="Equals: one or more values, comma-separated. Contains: a piece of text.",
            )

    def condition_rows(self) -> list[tuple[BoundField, BoundField, BoundField]]:
        return [(self[f"c{i}_field"], self[f"c{i}_op"], self[f"c{i}_value"]) for i in range(CONDITION_ROWS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data (the stubs allow None for overrides)
        data["conditions"] = self.conditions_from(self, data)
        for value in data.get("portal_only") or []:
            field_name, _, item = value.partition("|")
            data["conditions"].append({"field": field_name, "in": [item]})
        if data.get("portal_only"):
            data["local_only"] = True  # the opt-in says so next to the boxes
        date = data.get("expiration_date")
        data["expiration"] = datetime.combine(date, time(23, 59, 59), tzinfo=UTC) if date else None
        return data

    @staticmethod
    def conditions_from(form: forms.BaseForm, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The condition rows as Azure's allOf list; row errors are added to `form`."""
        conditions = []
        for i in range(CONDITION_ROWS):
            field_name, op, value = (
                data.get(f"c{i}_field"),
                data.get(f"c{i}_op"),
                (data.get(f"c{i}_value") or "").strip(),
            )
            if not field_name and not value:
                continue
            if not field_name:
                form.add_error(f"c{i}_field", "Choose the entity field.")
                continue
            if not value:
                form.add_error(f"c{i}_value", "Give a value.")
                continue
            if op == "contains":
                conditions.append({"field": field_name, "contains": value})
            else:
                conditions.append(
                    {"field": field_name, "in": [v.strip() for v in value.split(",") if v.strip()]}
                )
        return conditions

    def rule_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "alert_type": d["alert_type"],
            "state": d["state"],
            "reason": d["reason"],
            "comment": d.get("comment", ""),
            "expiration_date": d["expiration"],
            "conditions": d["conditions"],
            "local_only": d.get("local_only", False),
        }


def initial_from_rule(rule: SuppressionRule) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "subscription": rule.subscription_id,
        "name": rule.name,
        "alert_type": rule.alert_type,
        "state": rule.state if rule.state != "Expired" else "Disabled",
        "reason": rule.reason,
        "comment": rule.comment,
        "expiration_date": rule.expiration_date.date() if rule.expiration_date else None,
        "local_only": rule.local_only,
    }
    initial.update(initial_conditions(rule.conditions))
    return initial


def initial_conditions(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for i, c in enumerate(conditions[:CONDITION_ROWS]):
        initial[f"c{i}_field"] = c.get("field", "")
        if "contains" in c:
            initial[f"c{i}_op"], initial[f"c{i}_value"] = "contains", c["contains"]
        else:
            initial[f"c{i}_op"], initial[f"c{i}_value"] = (
                "equals",
                ", ".join(str(v) for v in c.get("in") or []),
            )
    return initial


def initial_from_alert(alert: Alert) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Suppress similar alerts: the alert's type and subscription, a reason, and its entities as conditions that
    Azure's suppression rules accept (the account by name and UPN suffix, or by Entra object id; the IP address),
    so that the rule is created in Azure and Azure stops raising these alerts. Conditions only this portal can
    apply (the application id) come back separately, as choices the user opts into (they make the rule
    portal-only)."""
    conditions: list[dict[str, Any]] = []
    portal_only: list[tuple[str, str]] = []
    for entity in alert.entities:
        kind = entity_type(entity)
        if kind == "ip" and entity_value(entity, "address"):
            conditions.append({"field": "entities.ip.address", "in": [entity_value(entity, "address")]})
        elif kind == "account":
            name, suffix = entity_value(entity, "name"), entity_value(entity, "upnSuffix")
            object_id = entity_value(entity, "aadUserId")
            if isinstance(name, str) and name:
                conditions.append({"field": "entities.account.name", "in": [name]})
                if isinstance(suffix, str) and suffix:
                    conditions.append({"field": "entities.account.upnsuffix", "in": [suffix]})
            elif isinstance(object_id, str) and object_id:
                conditions.append({"field": "entities.account.aaduserid", "in": [object_id]})
        elif kind in ("cloud-application", "cloudapplication"):
            app_id = entity_value(entity, "appId")
            if app_id:
                value = f"entities.cloudapplication.appid|{app_id}"
                label = f"Application ID = {app_id}"
                name = entity_value(entity, "name")
                portal_only.append((value, f"{label} ({name})" if name else label))
    suffix = "".join(c for c in alert.alert_type if c.isalnum() or c in "-_")[:30]
    initial = {
        "subscription": alert.subscription_id,
        "alert_type": alert.alert_type,
        "state": "Enabled",
        "reason": "SpecificEntityFalsePositive",
        "name": f"suppress-{suffix}"[:50],
        **initial_conditions(conditions[:CONDITION_ROWS]),
    }
    return initial, portal_only


class RulePrefillForm(forms.Form):
    """What opens the rule form pre-filled: an alert ("Suppress similar alerts"), or a feedback suggestion (a type,
    one field and value, a reason)."""

    from_alert = BoundedIntegerField(required=False)
    subscription = BoundedIntegerField(required=False)
    alert_type = SingleLineField(required=False, max_length=200)
    field = SingleLineField(required=False, max_length=100)
    value = SingleLineField(required=False, max_length=500)
    reason = SingleLineField(required=False, max_length=100)


class RuleCommandForm(forms.Form):
    """The buttons beside a rule: Simulate or Save on the form; a state change from the list, then back to `next`."""

    action = forms.ChoiceField(required=False, choices=[("save", "Save"), ("simulate", "Simulate")])
    state = SingleLineField(required=False, max_length=20)
    next = SingleLineField(required=False, max_length=2000)
