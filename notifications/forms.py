"""The Preferences page's notification fields (registered with the chrome at start-up)."""

from __future__ import annotations

from django import forms


class NotificationPreferenceForm(forms.Form):
    notify_mode = forms.ChoiceField(
        label="Email notifications of new alerts",
        choices=[
            ("immediate", "At once (at most one mail per window, the rest in a digest)"),
            ("hourly", "Hourly digest"),
            ("daily", "Daily digest"),
            ("off", "Off"),
        ],
    )
    notify_min_severity = forms.ChoiceField(
        label="Only alerts of this severity or higher",
        choices=[("Low", "Low"), ("Medium", "Medium"), ("High", "High")],
        help_text="On top of each subscription's own minimum.",
    )
