from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth.models import Group, User

from portal.accounts.models import Role
from portal.web.formfields import BoundedIntegerField, SingleLineField
from portal.web.pending import SCOPE_RE

TIMEZONE_CHOICES = [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class PreferencesForm(forms.Form):
    timezone = forms.ChoiceField(
        label="Time zone", choices=[("", "Follow my browser"), *TIMEZONE_CHOICES], required=False
    )
    theme = forms.ChoiceField(
        label="Theme", choices=[("auto", "Follow the OS"), ("light", "Light"), ("dark", "Dark")]
    )
    keyboard_shortcuts = forms.BooleanField(
        label="Single-key keyboard shortcuts",
        required=False,
        help_text="j / k to move through a list, x to select, a to assign, / to search, ? for help. "
        "Turn them off if you use speech input or they get in your way.",
    )


class FlagForm(forms.Form):
    """A yes/no preference set from a page (the alerts chart open or collapsed)."""

    open = forms.BooleanField(required=False)


class BrowserTimezoneForm(forms.Form):
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES)


class ThemeForm(forms.Form):
    theme = forms.ChoiceField(choices=[("auto", "auto"), ("light", "light"), ("dark", "dark")])


class GrantRoleForm(forms.Form):
    principal_type = forms.ChoiceField(label="Assign to", choices=[("user", "User"), ("group", "Group")])
    username = forms.CharField(label="User name", required=False, max_length=150)
    group = forms.ModelChoiceField(label="Group", queryset=Group.objects.order_by("name"), required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data (the stubs allow None for overrides)
        if data.get("principal_type") == "user":
            username = (data.get("username") or "").strip()
            if not username:
                self.add_error("username", "Enter the user name to grant the role to.")
            else:
                user = User.objects.filter(username=username, is_active=True).first()
                if user is None:
                    self.add_error("username", f"No active user is called {username!r}.")
                data["user"] = user
        elif data.get("principal_type") == "group" and not data.get("group"):
            self.add_error("group", "Choose the group to grant the role to.")
        return data


class SearchForm(forms.Form):
    q = SingleLineField(required=False, max_length=200)


class NextForm(forms.Form):
    """Where to go after an action (safe_next checks it stays on this site)."""

    next = forms.CharField(required=False, max_length=2000)


class PendingScopeForm(forms.Form):
    """The prefix of a pending element's id when the object is shown twice on a page (portal.web.pending)."""

    scope = forms.RegexField(regex=SCOPE_RE, required=False)


class VaultFilterForm(forms.Form):
    q = SingleLineField(required=False, max_length=100)
    subscription = BoundedIntegerField(required=False)
    page = BoundedIntegerField(required=False, min_value=1)
