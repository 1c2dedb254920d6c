"""The "Was this useful?" panel on each alert, and Security Center → Feedback (insights, suggestions, follow-up)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.models import Alert
from alerts.selectors import alert_get_for_user
from feedback import selectors
from feedback.forms import FeedbackFilterForm, FeedbackForm, PanelStateForm, ReplyForm
from feedback.models import Feedback, reasons_for
from feedback.services import feedback_reply, feedback_submit
from portal.accounts import selectors as access
from portal.csvexport import csv_response
from portal.web.http import AuthedRequest


def panel_context(
    user: User, alert: Alert, *, form: FeedbackForm | None = None, editing: bool = False
) -> dict[str, Any]:
    existing = selectors.own_feedback(user, alert.pk)
    if form is None:
        initial = {}
        answer = None
        if existing is not None:
            initial = {
                "useful": "yes" if existing.useful else "no",
                "reason": existing.reason,
                "text": existing.text,
                "may_contact": existing.may_contact,
            }
            answer = existing.useful
        form = FeedbackForm(initial=initial, answer=answer)
    return {
        "alert": alert,
        "feedback": existing,
        "feedback_form": form,
        "editing": editing or existing is None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def panel(request: AuthedRequest, alert_pk: int) -> HttpResponse:
    """GET: the panel (htmx), `?answer=yes|no` narrows the reasons, `?edit=1` reopens the form. POST: submit."""
    alert = alert_get_for_user(request.user, alert_pk)
    if request.method == "GET":
        asked = PanelStateForm(request.GET)
        got = asked.cleaned_data if asked.is_valid() else {}
        answer = got.get("useful") or got.get("answer")
        form = None
        if answer in ("yes", "no"):
            reasons = {value for value, _ in reasons_for(answer == "yes")}
            picked, kept = got.get("reason", ""), got.get("kept_reason", "")
            # the reason picked stays when it belongs to this answer; else the one kept from before the switch
            reason = picked if picked in reasons else kept if kept in reasons else ""
            form = FeedbackForm(
                initial={
                    "useful": answer,
                    "reason": reason,
                    "kept_reason": picked if picked and picked not in reasons else kept,
                    "text": got.get("text", ""),
                    "may_contact": bool(got.get("may_contact")),
                },
                answer=answer == "yes",
            )
        context = panel_context(request.user, alert, form=form, editing=bool(got.get("edit") or form))
        return render(request, "feedback/_panel.html", context)
    form = FeedbackForm(request.POST)  # the reasons of the answer posted; the service checks them too
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            feedback_submit(
                user=request.user,
                alert=alert,
                useful=data["useful"],
                reason=data["reason"],
                text=data["text"],
                may_contact=data["may_contact"],
                request=request,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            status = 400
        else:
            if not request.htmx:
                messages.success(request, "Thank you: your feedback was saved.")
                return redirect(reverse("alerts:detail", args=[alert.pk]) + "#feedback")
            return render(request, "feedback/_panel.html", panel_context(request.user, alert))
    else:
        status = 400
    if not request.htmx:
        messages.error(
            request,
            "Your feedback was not saved: "
            + "; ".join(f"{e}" for errors in form.errors.values() for e in errors),
        )
        return redirect(reverse("alerts:detail", args=[alert.pk]) + "#feedback")
    return render(
        request,
        "feedback/_panel.html",
        panel_context(request.user, alert, form=form, editing=True),
        status=status,
    )


@login_required
@require_GET
def insights(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "feedback/insights.html",
        {
            "page_title": "Feedback",
            "page_subtitle": "What analysts say about the alerts",
            "insights": selectors.insights(request.user),
            "suggestions": selectors.suggestions(request.user),
            "can_reply": access.can_write_any(request.user),
            "breadcrumbs": [
                {"label": "Security Center", "url": reverse("alerts:overview")},
                {"label": "Feedback"},
            ],
        },
    )


@login_required
@require_GET
def feedback_list(request: AuthedRequest) -> HttpResponse | StreamingHttpResponse:
    """Drill-down: the feedback (and its alerts) behind a figure of the insights page."""
    qs = selectors.feedback_visible_to(request.user).select_related("alert", "user", "alert__vault")
    form = FeedbackFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(
            f"{form.fields[k].label}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items()
        )
        return HttpResponse(
            f"These filter values are not valid: {errors}", status=400, content_type="text/plain"
        )
    qs, applied = form.apply(qs)
    if form.cleaned_data.get("format") == "csv":
        return _csv(qs)
    rows = list(qs.order_by("-updated_at")[:500])
    return render(
        request,
        "feedback/list.html",
        {
            "page_title": "Feedback",
            "rows": rows,
            "applied": applied,
            "query": form.urlencode(),
            "breadcrumbs": [
                {"label": "Security Center", "url": reverse("alerts:overview")},
                {"label": "Feedback", "url": reverse("feedback:insights")},
                {"label": "Details"},
            ],
        },
    )


def _csv(qs: QuerySet[Feedback]) -> StreamingHttpResponse:
    header = [
        "When",
        "User",
        "Useful",
        "Reason",
        "Additional feedback",
        "May contact",
        "Alert",
        "Alert type",
        "Key vault",
        "Identity",
        "IP",
    ]
    rows = (
        [
            f.updated_at,
            f.user.get_username(),
            f.useful,
            f.reason,
            f.text,
            f.may_contact,
            f.alert.title,
            f.alert.alert_type,
            f.alert.vault.name if f.alert.vault is not None else "",
            f.alert.identity,
            f.alert.caller_ip,
        ]
        for f in qs.order_by("-updated_at").iterator(chunk_size=1000)
    )
    return csv_response(header, rows, filename="feedback.csv")


@login_required
@require_GET
def follow_up(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "feedback/follow_up.html",
        {
            "page_title": "Feedback follow-up",
            "rows": selectors.follow_ups(request.user),
            "form": ReplyForm(),
            "breadcrumbs": [
                {"label": "Security Center", "url": reverse("alerts:overview")},
                {"label": "Feedback", "url": reverse("feedback:insights")},
                {"label": "Follow-up"},
            ],
        },
    )


@login_required
@require_POST
def reply(request: AuthedRequest, pk: int) -> HttpResponse:
    feedback = access.get_for_user(
        Feedback.objects.select_related("user", "alert"), request.user, write=True, pk=pk
    )
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            feedback_reply(
                user=request.user, feedback=feedback, body=form.cleaned_data["body"], request=request
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Your reply was emailed to {feedback.user.get_username()}.")
    else:
        messages.error(request, "Write a reply (at most 4,000 characters).")
    return redirect("feedback:follow_up")
