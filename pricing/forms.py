"""Pricing & settings' input (STYLE rule 11): the plans table's switches, and a subscription picked for Upgrade."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms

from portal.web.formfields import BoundedIntegerField, SingleLineField

MAX_PLANS = 100


class PlansForm(forms.Form):
    """The Defender plans table: a switch per plan (`plan-<name>`: on, or absent for off) or "all on/off". A plan
    the table does not list still reaches the service, which refuses it by name."""

    all = forms.ChoiceField(required=False, choices=[("on", "All on"), ("off", "All off")])

    def __init__(self, data: Mapping[str, Any] | None, plan_names: Iterable[str]) -> None:
        super().__init__(data)
        names = list(plan_names)
        posted = [k[5:] for k in (self.data or {}) if k.startswith("plan-") and k[5:] not in names]
        for name in [*names, *posted][:MAX_PLANS]:
            self.fields[f"plan-{name}"] = SingleLineField(required=False, max_length=40)

    def switches(self) -> dict[str, str | None]:
        """{plan name: the switch's value, or None when the form left it out (an unticked box)}."""
        return {
            key[5:]: (self.cleaned_data.get(key) if key in self.data else None)
            for key in self.fields
            if key.startswith("plan-")
        }


class SubscriptionForm(forms.Form):
    subscription = BoundedIntegerField(required=False)
