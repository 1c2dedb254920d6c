"""The alert pages' input (STYLE rule 11): every parameter a view reads comes through one of these forms. They
parse; the services check what the values mean (alerts.status raises the one ValidationError a page shows)."""

from __future__ import annotations

from django import forms

from portal.web.formfields import BoundedIntegerField, IdListField, MultiLineField, SingleLineField


class BannerForm(forms.Form):
    """The live banner's poll: alerts newer than `since` (an alert id)."""

    since = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)


class PaneForm(forms.Form):
    """The alert the list keeps open in its side pane (?open=<id>)."""

    open = BoundedIntegerField(required=False, min_value=1)


class DetailTabForm(forms.Form):
    tab = forms.ChoiceField(required=False, choices=[("details", "Alert details"), ("action", "Take action")])


class StatusChangeForm(forms.Form):
    """A status change of one alert, of the ticked rows (`to`, `ids`) or of all alerts matching a filter."""

    status = SingleLineField(required=False, max_length=40)
    to = SingleLineField(required=False, max_length=40)
    classification = SingleLineField(required=False, max_length=40)
    comment = MultiLineField(required=False)
    ids = IdListField(required=False, max_items=500)
    back = SingleLineField(required=False, max_length=4000)

    def target(self) -> str:
        """The status asked for: `to` on the bulk forms (where `status` is the list's filter), else `status`."""
        return self.cleaned_data.get("to") or self.cleaned_data.get("status") or ""


class SubscriptionForm(forms.Form):
    """A subscription picked from a list (the service checks the role on it)."""

    subscription = BoundedIntegerField(required=False)
