from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from feedback.models import NOT_USEFUL_REASONS, TEXT_LIMIT, USEFUL_REASONS, Feedback
from portal.web.formfields import BoundedIntegerField, MultiLineField, SingleLineField


class FeedbackForm(forms.Form):
    useful = forms.TypedChoiceField(
        label="Was this useful?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether the alert was useful."},
    )
    reason = forms.ChoiceField(
        label="Reason",
        choices=[("", "Choose a reason"), ("Useful", USEFUL_REASONS), ("Not useful", NOT_USEFUL_REASONS)],
        error_messages={
            "required": "Choose a reason.",
            "invalid_choice": "Choose one of the reasons offered for this answer.",
        },
    )
    text = MultiLineField(
        label="Additional feedback",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": TEXT_LIMIT}),
        max_length=TEXT_LIMIT,
        help_text=f"Up to {TEXT_LIMIT} characters. Required when the reason is “Other”.",
    )
    may_contact = forms.BooleanField(
        label="The security team may email me about this feedback", required=False
    )
    # The reason picked under the other answer, kept while the user switches Yes/No, so that switching back
    # restores it (it was discarded, and Submit then said "Choose a reason").
    kept_reason = forms.CharField(required=False, widget=forms.HiddenInput, max_length=40)

    def __init__(self, *args: Any, answer: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if answer is None and self.is_bound:
            posted = self.data.get("useful")
            answer = {"yes": True, "no": False}.get(posted) if isinstance(posted, str) else None
        # Once Yes/No is known, only that answer's reasons are offered (never both lists: "Other" came twice).
        reason = self.fields["reason"]
        assert isinstance(reason, forms.ChoiceField)  # declared above (each form has its own copy)
        reason.choices = (
            [("", "Choose a reason"), *(USEFUL_REASONS if answer else NOT_USEFUL_REASONS)]
            if answer is not None
            else [("", "Choose Yes or No first")]
        )


class ReplyForm(forms.Form):
    body = MultiLineField(label="Reply", widget=forms.Textarea(attrs={"rows": 4}), max_length=TEXT_LIMIT * 2)


class FeedbackFilterForm(forms.Form):
    """The drill-down's filters (from the insights page's links)."""

    type = SingleLineField(label="Alert type", required=False, max_length=200)
    vault = BoundedIntegerField(label="Key vault", required=False, min_value=1)
    identity = SingleLineField(label="Identity", required=False, max_length=300)
    ip = SingleLineField(label="IP address", required=False, max_length=64)
    reason = SingleLineField(label="Reason", required=False, max_length=40)
    useful = forms.ChoiceField(
        label="Useful", required=False, choices=[("", "Any"), ("yes", "Yes"), ("no", "No")]
    )
    format = forms.ChoiceField(label="Format", required=False, choices=[("", "Page"), ("csv", "CSV")])

    LOOKUPS = {
        "type": "alert__alert_type",
        "vault": "alert__vault_id",
        "identity": "alert__identity",
        "ip": "alert__caller_ip",
        "reason": "reason",
    }

    def urlencode(self) -> str:
        """The filter as it came (for the CSV link of the same drill-down)."""
        return self.data.urlencode() if hasattr(self.data, "urlencode") else ""

    def apply(self, qs: QuerySet[Feedback]) -> tuple[QuerySet[Feedback], dict[str, Any]]:
        applied: dict[str, Any] = {}
        for name, lookup in self.LOOKUPS.items():
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                qs = qs.filter(**{lookup: value})
                applied[name] = value
        if self.cleaned_data.get("useful"):
            qs = qs.filter(useful=self.cleaned_data["useful"] == "yes")
            applied["useful"] = self.cleaned_data["useful"]
        return qs, applied


class PanelStateForm(forms.Form):
    """The panel redrawn while the person answers (htmx GET): the answer so far, the reason picked, the one kept from
    before switching answers, the text typed, the consent, and whether the form is reopened to edit."""

    useful = forms.ChoiceField(required=False, choices=[("yes", "Yes"), ("no", "No")])
    answer = forms.ChoiceField(required=False, choices=[("yes", "Yes"), ("no", "No")])
    reason = SingleLineField(required=False, max_length=40)
    kept_reason = SingleLineField(required=False, max_length=40)
    text = MultiLineField(required=False, max_length=2000)
    may_contact = forms.BooleanField(required=False)
    edit = forms.BooleanField(required=False)
