from __future__ import annotations

from django import forms

from feedback.models import NOT_USEFUL_REASONS, TEXT_LIMIT, USEFUL_REASONS


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
    text = forms.CharField(
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

    def __init__(self, *args, answer: bool | None = None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if answer is None and self.is_bound:
            posted = self.data.get("useful")
            answer = {"yes": True, "no": False}.get(posted) if isinstance(posted, str) else None
        # Once Yes/No is known, only that answer's reasons are offered (never both lists: "Other" came twice).
        self.fields["reason"].choices = (
            [("", "Choose a reason"), *(USEFUL_REASONS if answer else NOT_USEFUL_REASONS)]
            if answer is not None
            else [("", "Choose Yes or No first")]
        )


class ReplyForm(forms.Form):
    body = forms.CharField(label="Reply", widget=forms.Textarea(attrs={"rows": 4}), max_length=TEXT_LIMIT * 2)
