"""Team triage pages: assignment and comments on alerts, incidents, saved views, SOC metrics, webhooks, retention."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import selectors as alert_selectors
from alerts.filters import AlertFilterForm, FilterState
from alerts.models import CLASSIFICATIONS, Alert, Status
from portal.accounts import selectors as access
from portal.web.formfields import cleaned
from portal.web.http import AuthedRequest
from triage import selectors, services, webhooks
from triage.forms import (
    AssignForm,
    CommentForm,
    IncidentListForm,
    MetricsForm,
    RetentionForm,
    SavedViewForm,
    StatusForm,
    WebhookForm,
)
from triage.models import COMMENT_LIMIT, WEBHOOK_EVENTS, AlertComment


def _crumbs(*extra: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": "Security Center", "url": reverse("alerts:overview")}, *extra]


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- assignment ----------------------------------------------------------------------------------------------


def owner_context(user: User, alert: Alert) -> dict[str, Any]:
    """What the alert page's owner box needs."""
    can_write = access.can_write(user, alert.subscription_id)
    owners = (
        selectors.owners_with_roles([alert.subscription_id]) if can_write else {"users": [], "groups": []}
    )
    return {
        "alert": alert,
        "can_write": can_write,
        "assignees": owners["users"],
        "groups": owners["groups"],
    }


@login_required
@require_POST
def alert_assign(request: AuthedRequest, pk: int) -> HttpResponse:
    alert = alert_selectors.alert_get_for_user(request.user, pk, write=True)
    error = ""
    try:
        assignee, group = services.parse_assignee(
            cleaned(AssignForm(request.POST), "assignee", ""), request.user
        )
        alert = services.alert_assign(
            user=request.user, alert=alert, assignee=assignee, group=group, request=request
        )
    except ValidationError as exc:
        error = _errors(exc)
    if request.htmx:
        alert = alert_selectors.alert_get_for_user(request.user, pk)
        context = {**owner_context(request.user, alert), "owner_error": error}
        return render(request, "triage/_owner.html", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        owner = alert.assignee or alert.assignee_group
        messages.success(request, f"Assigned to {owner}." if owner else "The alert has no owner now.")
    return redirect("alerts:detail", pk=pk)


@login_required
@require_POST
def bulk_assign(request: AuthedRequest) -> HttpResponse:
    """From the list: assign the selected alerts (the `a` shortcut assigns them to me)."""
    form = AssignForm(request.POST)
    form.is_valid()
    back = form.cleaned_data.get("back", "")
    back_url = reverse("alerts:list") + (f"?{back}" if back else "")
    ids = form.cleaned_data.get("ids") or []
    if not ids:
        messages.error(request, "Select at least one alert.")
        return redirect(back_url)
    try:
        assignee, group = services.parse_assignee(form.cleaned_data.get("assignee", ""), request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect(back_url)
    alerts = alert_selectors.alerts_visible_to(request.user).filter(pk__in=ids).select_related("subscription")
    changed, refused = services.alerts_bulk_assign(
        user=request.user, alerts=alerts, assignee=assignee, group=group, request=request
    )
    owner = assignee.get_username() if assignee else (f"the {group.name} queue" if group else "no one")
    if changed:
        messages.success(request, f"{changed} alert(s) assigned to {owner}.")
    if refused:
        messages.error(request, f"{len(refused)} not assigned: " + "; ".join(refused[:5]))
    return redirect(back_url)


# --- comments ------------------------------------------------------------------------------------------------


def comments_context(user: User, alert: Alert, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    comments = list(selectors.comments_for(alert))
    for comment in comments:
        comment.editable = (  # type: ignore[attr-defined]  # not a field: for the template
            comment.author_id == user.pk and now - comment.created_at <= services.COMMENT_EDIT_WINDOW
        )
    return {
        "alert": alert,
        "comments": comments,
        "can_comment": access.can_write(user, alert.subscription_id),
        "comment_limit": COMMENT_LIMIT,
        **extra,
    }


@login_required
@require_POST
def comment_add(request: AuthedRequest, pk: int) -> HttpResponse:
    alert = alert_selectors.alert_get_for_user(request.user, pk, write=True)
    body = cleaned(CommentForm(request.POST), "body", "")
    try:
        services.comment_add(user=request.user, alert=alert, body=body, request=request)
    except ValidationError as exc:
        if request.htmx:
            context = comments_context(request.user, alert, comment_error=_errors(exc), draft=body)
            return render(request, "triage/_comments.html", context, status=400)
        messages.error(request, _errors(exc))
        return redirect(reverse("alerts:detail", args=[pk]) + "#comments")
    if request.htmx:
        return render(request, "triage/_comments.html", comments_context(request.user, alert))
    return redirect(reverse("alerts:detail", args=[pk]) + "#comments")


@login_required
@require_http_methods(["GET", "POST"])
def comment_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    comment = get_object_or_404(AlertComment.objects.select_related("alert"), pk=pk)
    alert = alert_selectors.alert_get_for_user(request.user, comment.alert_id)  # 404 unless visible
    if comment.author_id != request.user.pk:
        raise PermissionDenied("Only the author edits a comment.")
    error = ""
    draft = cleaned(CommentForm(request.POST), "body", "") if request.method == "POST" else comment.body
    if request.method == "POST":
        try:
            services.comment_edit(user=request.user, comment=comment, body=draft, request=request)
            return redirect(reverse("alerts:detail", args=[alert.pk]) + f"#comment-{comment.pk}")
        except ValidationError as exc:
            error = _errors(exc)
    return render(
        request,
        "triage/comment_edit.html",
        {
            "page_title": "Edit comment",
            "comment": comment,
            "alert": alert,
            "error": error,
            "draft": draft,
            "comment_limit": COMMENT_LIMIT,
            "breadcrumbs": _crumbs(
                {"label": "Security alerts", "url": reverse("alerts:list")},
                {"label": alert.title or alert.alert_type, "url": reverse("alerts:detail", args=[alert.pk])},
                {"label": "Edit comment"},
            ),
        },
        status=400 if error else 200,
    )


# --- incidents -----------------------------------------------------------------------------------------------


@login_required
@require_GET
def incident_list(request: AuthedRequest) -> HttpResponse:
    show = cleaned(IncidentListForm(request.GET), "show", "open")
    qs = selectors.incidents_visible_to(request.user)
    if show == "open":
        qs = selectors.incidents_open(qs)
    return render(
        request,
        "triage/incidents.html",
        {
            "page_title": "Incidents",
            "incidents": list(qs.order_by("-last_time")[:200]),
            "show": show,
            "breadcrumbs": _crumbs({"label": "Incidents"}),
        },
    )


@login_required
@require_GET
def alert_incident(request: AuthedRequest, pk: int) -> HttpResponse:
    """The incident an alert belongs to (the alert page links here, so that it spends no query on finding it)."""
    alert = alert_selectors.alert_get_for_user(request.user, pk)
    incident = selectors.incident_of(alert)
    if incident is None:
        raise Http404("This alert is not part of an incident.")
    return redirect("triage:incident", pk=incident.pk)


@login_required
@require_GET
def incident_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_get_for_user(request.user, pk)
    alerts = selectors.incident_alerts(incident)
    statuses = {a.status for a in alerts}
    can_write = access.can_write(request.user, incident.subscription_id)
    return render(
        request,
        "triage/incident.html",
        {
            "page_title": incident.title,
            "page_subtitle": "Incident",
            "incident": incident,
            "alerts": alerts,
            "entities": selectors.shared_entities(alerts),
            "status": statuses.pop() if len(statuses) == 1 else "Mixed",
            "statuses": Status.choices,
            "classifications": CLASSIFICATIONS,
            "can_write": can_write,
            "assignees": selectors.assignee_choices(request.user)["users"] if can_write else [],
            "breadcrumbs": _crumbs(
                {"label": "Incidents", "url": reverse("triage:incidents")}, {"label": incident.title}
            ),
        },
    )


@login_required
@require_POST
def incident_status(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_get_for_user(request.user, pk, write=True)
    form = StatusForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors)
        n = services.incident_set_status(
            user=request.user,
            incident=incident,
            status=form.cleaned_data["status"],
            classification=form.cleaned_data["classification"],
            comment=form.cleaned_data["comment"],
            request=request,
        )
        messages.success(
            request, f"{n} alert(s) of the incident set to {Status(form.cleaned_data['status']).label}."
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("triage:incident", pk=pk)


@login_required
@require_POST
def incident_assign(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = selectors.incident_get_for_user(request.user, pk, write=True)
    try:
        assignee, group = services.parse_assignee(
            cleaned(AssignForm(request.POST), "assignee", ""), request.user
        )
        if group is not None:
            raise ValidationError({"assignee": "An incident is owned by a person."})
        services.incident_assign(user=request.user, incident=incident, assignee=assignee, request=request)
        messages.success(
            request,
            f"Incident assigned to {assignee.get_username()}."
            if assignee
            else "The incident has no owner now.",
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("triage:incident", pk=pk)


# --- saved views ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def saved_views(request: AuthedRequest) -> HttpResponse:
    """Save the current filter of Security alerts under a name (POST), or list the views (GET)."""
    form = SavedViewForm(request.POST if request.method == "POST" else request.GET)
    form.is_valid()
    query = form.cleaned_data.get("query", "")
    error = ""
    if request.method == "POST":
        _form, state = _filter(request, query)
        if state is None:
            error = "The filter is not valid; fix it on the Security alerts page first."
        else:
            try:
                view = services.saved_view_save(
                    user=request.user,
                    name=form.cleaned_data.get("name", ""),
                    query=state.urlencode(),
                    shared=bool(form.cleaned_data.get("shared")),
                    request=request,
                )
                messages.success(request, f"View “{view.name}” saved; it is in the left menu.")
                return redirect(reverse("alerts:list") + (f"?{view.query}" if view.query else ""))
            except ValidationError as exc:
                error = _errors(exc)
    return render(
        request,
        "triage/views.html",
        {
            "page_title": "Saved views",
            "views": selectors.saved_views_for(request.user),
            "query": query,
            "error": error,
            "name": form.cleaned_data.get("name", "") if request.method == "POST" else "",
            "can_share": access.can_write_any(request.user),
            "breadcrumbs": _crumbs(
                {"label": "Security alerts", "url": reverse("alerts:list")}, {"label": "Saved views"}
            ),
        },
        status=400 if error else 200,
    )


def _filter(request: AuthedRequest, query: str) -> tuple[AlertFilterForm, FilterState | None]:
    from django.http import QueryDict

    return alert_selectors.filter_state(request.user, QueryDict(query))


@login_required
@require_POST
def saved_view_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    view = selectors.saved_view_get_for_user(request.user, pk)
    if view is None:
        raise Http404("No such view.")
    services.saved_view_delete(user=request.user, view=view, request=request)
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect("triage:views")


# --- SOC metrics ---------------------------------------------------------------------------------------------


def _duration(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


@login_required
@require_GET
def metrics(request: AuthedRequest) -> HttpResponse:
    days = cleaned(MetricsForm(request.GET), "days", 30)
    data = selectors.soc_metrics(request.user, now=timezone.now(), days=days)
    for key in ("by_severity", "by_type", "by_vault", "by_analyst", "by_week"):
        for row in data[key]:
            for m in ("mtta", "mttr"):
                row[m]["median_text"] = _duration(row[m]["median"])
                row[m]["p90_text"] = _duration(row[m]["p90"])
    for m in ("mtta", "mttr"):
        data["overall"][m]["median_text"] = _duration(data["overall"][m]["median"])
        data["overall"][m]["p90_text"] = _duration(data["overall"][m]["p90"])
    return render(
        request,
        "triage/metrics.html",
        {
            "page_title": "Metrics",
            "page_subtitle": "How fast the team acts on alerts, and what they turn out to be",
            "m": data,
            "day_choices": (7, 30, 90, 365),
            "classification_labels": [(value, label.split(" (")[0]) for value, label in CLASSIFICATIONS],
            "breadcrumbs": _crumbs({"label": "Metrics"}),
        },
    )


# --- webhooks ------------------------------------------------------------------------------------------------


@login_required
@require_GET
def webhook_list(request: AuthedRequest) -> HttpResponse:
    hooks = selectors.with_last_delivery(selectors.webhooks_visible_to(request.user))
    for hook in hooks:
        hook.can_write = access.can_write(  # type: ignore[attr-defined]  # not a field: for the template
            request.user, hook.subscription_id
        )
    return render(
        request,
        "triage/webhooks.html",
        {
            "page_title": "Webhooks",
            "page_subtitle": "Signed JSON POSTs to your automation (SOAR, chat) when alerts change",
            "hooks": hooks,
            "can_create": access.subscriptions_visible_to(request.user, write=True).exists(),
            "breadcrumbs": _crumbs({"label": "Webhooks"}),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    hook = None
    if pk is not None:
        hook = selectors.webhook_get_for_user(request.user, pk)
    subscriptions = list(access.subscriptions_visible_to(request.user, write=True).order_by("display_name"))
    if hook is None and not subscriptions:
        raise PermissionDenied("Only Security Admins and Owners manage webhooks.")
    error, secret = "", None
    form = WebhookForm(request.POST) if request.method == "POST" else None
    data = form.cleaned_data if form is not None and form.is_valid() else ({} if form is not None else None)
    if data is not None:
        try:
            subscription = (
                hook.subscription
                if hook
                else access.subscription_get_for_user(request.user, data.get("subscription") or 0, write=True)
            )
            hook, secret = webhooks.webhook_save(
                user=request.user,
                subscription=subscription,
                name=data.get("name", ""),
                url=data.get("url", ""),
                events=data.get("events") or [],
                enabled=bool(data.get("enabled")),
                webhook=hook,
                request=request,
            )
            if secret is None:
                messages.success(request, f"Webhook “{hook.name}” saved.")
                return redirect("triage:webhook", pk=hook.pk)
        except ValidationError as exc:
            error = _errors(exc)
    can_write = hook is None or access.can_write(request.user, hook.subscription_id)
    return render(
        request,
        "triage/webhook.html",
        {
            "page_title": hook.name if hook else "New webhook",
            "hook": hook,
            "secret": secret,
            "error": error,
            "subscriptions": subscriptions,
            "events": WEBHOOK_EVENTS,
            "can_write": can_write,
            "chosen": data.get("events") or []
            if data is not None
            else (hook.events if hook else [WEBHOOK_EVENTS[0][0]]),
            "values": {
                "name": data.get("name", "") if data is not None else (hook.name if hook else ""),
                "url": data.get("url", "") if data is not None else (hook.url if hook else ""),
                "subscription": str(data.get("subscription") or "") if data is not None else "",
            },
            "deliveries": selectors.deliveries_for(hook) if hook and hook.pk else [],
            "breadcrumbs": _crumbs(
                {"label": "Webhooks", "url": reverse("triage:webhooks")},
                {"label": hook.name if hook else "New webhook"},
            ),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def webhook_test(request: AuthedRequest, pk: int) -> HttpResponse:
    hook = selectors.webhook_get_for_user(request.user, pk, write=True)
    webhooks.webhook_test(user=request.user, webhook=hook, request=request)
    messages.success(request, "Test event queued; its delivery appears below within seconds.")
    return redirect("triage:webhook", pk=pk)


@login_required
@require_POST
def webhook_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    hook = selectors.webhook_get_for_user(request.user, pk, write=True)
    webhooks.webhook_delete(user=request.user, webhook=hook, request=request)
    messages.success(request, f"Webhook “{hook.name}” deleted.")
    return redirect("triage:webhooks")


# --- retention -----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def retention(request: AuthedRequest) -> HttpResponse:
    """Portal administrators (superusers) purge alerts closed more than N days ago: a dry-run count first."""
    if not request.user.is_superuser:
        raise PermissionDenied("Only portal administrators apply the retention policy.")
    asked = RetentionForm(request.POST if request.method == "POST" else request.GET)
    asked.is_valid()
    days_text = asked.cleaned_data.get("days") or str(settings.RETENTION_CLOSED_DAYS or 365)
    error, count = "", None
    try:
        days = int(days_text)
        if days < 1:
            raise ValueError
    except ValueError:
        days, error = 0, "Give a whole number of days (1 or more)."
    if not error:
        count = services.retention_purge(actor=request.user, days=days, dry_run=True)
        if request.method == "POST" and asked.cleaned_data.get("confirm") == str(count) and count:
            deleted = services.retention_purge(actor=request.user, days=days, dry_run=False, request=request)
            messages.success(request, f"{deleted} alert(s) closed more than {days} days ago were deleted.")
            return redirect(reverse("triage:retention") + "?" + urlencode({"days": days}))
        if request.method == "POST":
            error = "The number of alerts changed since the dry run; check the new count and confirm again."
    return render(
        request,
        "triage/retention.html",
        {
            "page_title": "Retention",
            "days": days_text,
            "count": count,
            "error": error,
            "policy_days": settings.RETENTION_CLOSED_DAYS,
            "breadcrumbs": _crumbs({"label": "Retention"}),
        },
        status=400 if error else 200,
    )
