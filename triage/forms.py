"""Team triage's input (STYLE rule 11): every parameter its views read comes through one of these forms. They parse;
the services check what the values mean and raise the one ValidationError a page shows."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.web.formfields import BoundedIntegerField, IdListField, MultiLineField, SingleLineField

BACK_LIMIT = 2000


class AssignForm(forms.Form):
    """An owner for an alert, the ticked rows or an incident: `me`, `none`, `user:<id>`, `group:<id>`."""

    assignee = SingleLineField(required=False, max_length=100)
    ids = IdListField(required=False, max_items=500)
    back = SingleLineField(required=False, max_length=BACK_LIMIT)


class CommentForm(forms.Form):
    body = MultiLineField(required=False)


class IncidentListForm(forms.Form):
    show = forms.ChoiceField(required=False, choices=[("open", "Open"), ("all", "All")])


class StatusForm(forms.Form):
    status = SingleLineField(required=False, max_length=40)
    classification = SingleLineField(required=False, max_length=40)
    comment = MultiLineField(required=False)


class SavedViewForm(forms.Form):
    name = SingleLineField(required=False, max_length=200)
    query = SingleLineField(required=False, max_length=BACK_LIMIT)
    shared = forms.BooleanField(required=False)


class MetricsForm(forms.Form):
    days = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "365 days")],
    )


class WebhookForm(forms.Form):
    subscription = BoundedIntegerField(required=False)
    name = SingleLineField(required=False, max_length=200)
    url = SingleLineField(required=False, max_length=2000)
    events = forms.MultipleChoiceField(required=False, choices=[])  # the service checks each event's name
    enabled = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        posted = self.data.getlist("events") if hasattr(self.data, "getlist") else []
        events = self.fields["events"]
        assert isinstance(events, forms.MultipleChoiceField)  # declared above (each form has its own copy)
        events.choices = [(e, e) for e in posted[:50]]


class RetentionForm(forms.Form):
    days = SingleLineField(required=False, max_length=20)  # "Give a whole number of days" comes from the view
    confirm = SingleLineField(required=False, max_length=20)
