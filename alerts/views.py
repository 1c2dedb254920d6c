"""Security Center: Overview, Security alerts (list, counters, trend, live banner, bulk, export), alert detail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import hooks, labels, selectors
from alerts.catalog import BY_TYPE, KEY_VAULT_ALERT_TYPES
from alerts.charts import chart
from alerts.filters import PAGE_SIZE, RANGES, SORTS, AlertFilterForm, FilterState
from alerts.forms import BannerForm, DetailTabForm, PaneForm, StatusChangeForm, SubscriptionForm
from alerts.models import CLASSIFICATIONS, CLOSED_STATUSES, Alert, BulkStatusJob, Status
from alerts.selectors import SEVERITY_ORDER, STATUS_ORDER
from alerts.services import bulk_status_job_create
from alerts.status import Source, alert_set_status, alerts_set_status
from portal.accounts import selectors as access
from portal.accounts import services as account_services
from portal.audit.services import audit_record
from portal.csvexport import csv_response
from portal.web.formfields import cleaned
from portal.web.forms import FlagForm, PendingScopeForm
from portal.web.http import AuthedRequest


def _crumbs(*extra: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": "Security Center", "url": reverse("alerts:overview")}, *extra]


def _state_or_errors(request: AuthedRequest) -> tuple[AlertFilterForm, FilterState | None]:
    return selectors.filter_state(request.user, request.GET)


def _pills(state: FilterState | None) -> dict[str, str]:
    """What each pill of the filter bar says when closed: the chosen values, or "All"."""
    if state is None:
        return {"range": "", "severity": "", "status": "", "more": ""}
    d = state.data
    more = [name for name in ("subscription", "type", "plan", "provider", "vault", "assignee") if d.get(name)]
    severities = [s for s in SEVERITY_ORDER if s in (d.get("severity") or [])]
    statuses = [labels.status_label(s) for s in STATUS_ORDER if s in (d.get("status") or [])]
    return {
        "range": dict(RANGES).get(d.get("range") or "all", "All time"),
        "severity": ", ".join(severities) if severities and len(severities) < 4 else "All",
        "status": ", ".join(statuses) if statuses and len(statuses) < 4 else "All",
        "more": f"{len(more)} more" if more else "",
    }


def _pane_alert(request: AuthedRequest, pk: int | None) -> Alert | None:
    """The alert the URL keeps open in the side pane (?open=<id>), if the user may see it."""
    if pk is None:
        return None
    return (
        selectors.alerts_visible_to(request.user)
        .select_related("vault", "subscription")
        .filter(pk=pk)
        .first()
    )


@login_required
@require_GET
def alert_list(request: AuthedRequest) -> HttpResponse:
    return _list_page(request, open_pk=cleaned(PaneForm(request.GET), "open", None))


def _list_page(request: AuthedRequest, *, open_pk: int | None) -> HttpResponse:
    form, state = _state_or_errors(request)
    can_write_any = access.can_write_any(request.user)
    context: dict[str, Any] = {
        "page_title": "Security alerts",
        "breadcrumbs": _crumbs({"label": "Security alerts"}),
        "form": form,
        "can_write_any": can_write_any,
        "statuses": Status.choices,
        "classifications": CLASSIFICATIONS,
        "pills": _pills(state),
    }
    if state is None:
        context.update(page=None, invalid=True)
        template = "alerts/list.html#results" if request.htmx else "alerts/list.html"
        return render(request, template, context, status=400)
    page = selectors.alerts_page(request.user, state, page_size=PAGE_SIZE)
    newest = (
        selectors.alerts_visible_to(request.user).order_by("-id").values_list("id", flat=True).first() or 0
    )
    pane_alert = _pane_alert(request, open_pk)
    pane_query = state.urlencode(cursor=state.data.get("cursor") or None)
    context.update(
        page=page,
        state=state,
        query=state.urlencode(),
        pane_query=pane_query,
        sort_links={key: state.urlencode(sort=key) for key, _label in SORTS},
        newest_id=newest,
        poll_seconds=settings.LIVE_POLL_SECONDS,
        next_query=state.urlencode(cursor=page.next_cursor) if page.next_cursor else "",
        first_page=not state.data.get("cursor"),
        pane_alert=pane_alert,
    )
    if pane_alert is not None:
        context.update(_pane_context(request, pane_alert, pane_query))
    template = (
        "alerts/list.html#results"
        if request.htmx and request.htmx.target == "results"
        else "alerts/list.html"
    )
    return render(request, template, context)


def _pane_context(request: AuthedRequest, alert: Alert, pane_query: str) -> dict[str, Any]:
    """The pane's template context; `pane_query`: the list's filter (and page) the pane's close link returns to."""
    return {
        "alert": alert,
        "can_write": access.can_write(request.user, alert.subscription_id),
        "statuses": Status.choices,
        "classifications": CLASSIFICATIONS,
        "pane_query": pane_query,
    }


@login_required
@require_GET
def alert_pane(request: AuthedRequest, pk: int) -> HttpResponse:
    """The side pane beside the list: summary, entities, the Take action essentials, the status menu. Opened by
    htmx (the URL keeps ?open=<id>); asked for directly, it is the list with the pane open."""
    alert = selectors.alert_get_for_user(request.user, pk)
    if not request.htmx:  # a bookmarked or copied pane address: the list, with this alert open beside it
        return redirect(f"{reverse('alerts:list')}?open={alert.pk}")
    _form, state = _state_or_errors(request)
    pane_query = state.urlencode(cursor=state.data.get("cursor") or None) if state else ""
    return render(request, "alerts/_pane.html", _pane_context(request, alert, pane_query))


@login_required
@require_GET
def alert_counters(request: AuthedRequest) -> HttpResponse:
    """The filter bar's counts (per severity and status, into the pills) and the slim counters row: loaded lazily
    after the rows, which never wait for them."""
    _form, state = _state_or_errors(request)
    if state is None:
        return HttpResponseBadRequest("Invalid filter")
    return render(
        request,
        "alerts/_counters.html",
        {
            "facets": selectors.facet_counts(request.user, state),
            "state": state,
            "owners": selectors.ownership_counts(request.user),
        },
    )


@login_required
@require_GET
def alert_chart(request: AuthedRequest) -> HttpResponse:
    """The 30-day trend of the current filter: loaded when the user opens it (it starts collapsed)."""
    _form, state = _state_or_errors(request)
    if state is None:
        return HttpResponseBadRequest("Invalid filter")
    return render(request, "alerts/_chart.html", {"chart": chart(selectors.trend(request.user, state))})


@login_required
@require_POST
def chart_state(request: AuthedRequest) -> HttpResponse:
    """The list's chart opened or collapsed: remembered for the user."""
    form = FlagForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    account_services.preference_set_flag(
        user=request.user, name="alerts_chart_open", value=form.cleaned_data["open"]
    )
    return JsonResponse({"open": form.cleaned_data["open"]})


@login_required
@require_GET
def new_alerts_banner(request: AuthedRequest) -> HttpResponse:
    """Polled by the list: how many alerts matching the filter arrived since the page was drawn (cheap)."""
    _form, state = _state_or_errors(request)
    since = cleaned(BannerForm(request.GET), "since", 0)
    count = 0
    if state is not None:
        qs = state.apply(selectors.alerts_visible_to(request.user), with_cursor=False).order_by()
        count = qs.filter(pk__gt=since).values("pk")[:100].count()
    return render(
        request,
        "alerts/_new_banner.html",
        {
            "poll_seconds": settings.LIVE_POLL_SECONDS,
            "count": count,
            "since": since,
            "query": state.urlencode() if state else "",
        },
    )


@login_required
@require_GET
def alert_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    alert = selectors.alert_get_for_user(request.user, pk)
    tab = cleaned(DetailTabForm(request.GET), "tab", "details")
    info = BY_TYPE.get(alert.alert_type.removeprefix("SIMULATED_"))
    activity = hooks.activity_filled(alert, list(selectors.alert_activity(alert)))
    return render(
        request,
        "alerts/detail.html",
        {
            "page_title": alert.title or alert.alert_type,
            "page_subtitle": "Security alert",
            "alert": alert,
            "info": info,
            "tab": tab,
            "can_write": access.can_write(request.user, alert.subscription_id),
            "related": selectors.related_alerts(request.user, alert),
            "activity": activity,
            "statuses": Status.choices,
            "classifications": CLASSIFICATIONS,
            "breadcrumbs": _crumbs(
                {"label": "Security alerts", "url": reverse("alerts:list")},
                {"label": alert.title or alert.alert_type},
            ),
        },
    )


@login_required
@require_POST
def alert_status(request: AuthedRequest, pk: int) -> HttpResponse:
    alert = selectors.alert_get_for_user(request.user, pk, write=True)
    form = StatusChangeForm(request.POST)
    scope = cleaned(PendingScopeForm(request.POST), "scope", "")
    try:
        if not form.is_valid():
            raise ValidationError(form.errors)
        alert = alert_set_status(
            user=request.user,
            alert=alert,
            status=form.target(),
            request=request,
            classification=form.cleaned_data["classification"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as exc:
        if request.htmx:
            return render(
                request,
                "alerts/_status.html",
                {
                    "alert": selectors.alert_get_for_user(request.user, pk),
                    "can_write": True,
                    "statuses": Status.choices,
                    "classifications": CLASSIFICATIONS,
                    "status_error": " ".join(exc.messages),
                    "chosen": form.cleaned_data.get("status", ""),
                    "status_scope": scope,
                },
                status=400,
            )
        messages.error(request, "; ".join(exc.messages))
        return redirect("alerts:detail", pk=pk)
    if request.htmx:
        return render(
            request,
            "alerts/_status.html",
            {
                "alert": alert,
                "can_write": True,
                "statuses": Status.choices,
                "classifications": CLASSIFICATIONS,
                "status_scope": scope,
                "refresh_row": bool(scope),  # the pane's change also settles the list row's status in place
            },
        )
    messages.success(
        request, f"Status set to {Status(alert.status).label}; it is being written back to Azure."
    )
    return redirect("alerts:detail", pk=pk)


@login_required
@require_POST
def bulk_status(request: AuthedRequest) -> HttpResponse:
    """Change status of the ticked rows (at most a page of them)."""
    form = StatusChangeForm(request.POST)
    valid = form.is_valid()
    back = form.cleaned_data.get("back", "") if valid else ""
    back_url = reverse("alerts:list") + (f"?{back}" if back and not back.startswith(("/", "http")) else "")
    if not valid:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back_url)
    ids, status = form.cleaned_data["ids"], form.target()
    if not ids:
        messages.error(request, "Select at least one alert.")
        return redirect(back_url)
    try:
        result = alerts_set_status(
            actor=request.user,
            alert_ids=selectors.alerts_visible_to(request.user)
            .filter(pk__in=ids)
            .values_list("pk", flat=True),
            status=status,
            request=request,
            source=Source.BULK,
            classification=form.cleaned_data["classification"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as exc:  # the one check, in the service: nothing was changed
        messages.error(request, " ".join(exc.messages) + " Nothing was changed.")
        return redirect(back_url)
    changed, refused = len(result.changed) + result.unchanged, result.refused
    text = f"{changed} alert(s) set to {Status(status).label}; they are being written back to Azure."
    if refused:
        text += f" {refused} not changed: your role on their subscription is read-only."
    messages.success(request, text)
    return redirect(back_url)


@login_required
@require_http_methods(["GET", "POST"])
def bulk_all(request: AuthedRequest) -> HttpResponse:
    """'All N alerts matching this filter': the exact N is computed once, when the user confirms."""
    form = StatusChangeForm(request.GET if request.method == "GET" else request.POST)
    status = form.target() if form.is_valid() else ""
    _form, state = _state_or_errors(request)
    if state is None or status not in Status.values:
        messages.error(request, "The filter or the status is not valid.")
        return redirect("alerts:list")
    if not access.can_write_any(request.user):
        return HttpResponse("Your role is read-only on every subscription.", status=403)
    if request.method == "GET":
        total = selectors.exact_count(request.user, state)
        return render(
            request,
            "alerts/bulk_confirm.html",
            {
                "page_title": "Change status of all matching alerts",
                "total": total,
                "status": status,
                "status_label": Status(status).label,
                "closing": status in CLOSED_STATUSES,
                "classifications": CLASSIFICATIONS,
                "query": state.urlencode(),
                "breadcrumbs": _crumbs(
                    {"label": "Security alerts", "url": reverse("alerts:list")}, {"label": "Change status"}
                ),
            },
        )
    try:
        job = bulk_status_job_create(
            user=request.user,
            query=state.urlencode(),
            status=status,
            total=selectors.exact_count(request.user, state),
            classification=form.cleaned_data["classification"],
            comment=form.cleaned_data["comment"],
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("alerts:bulk_all") + f"?{state.urlencode()}&to={status}")
    return redirect("alerts:bulk_job", pk=job.pk)


@login_required
@require_GET
def bulk_job(request: AuthedRequest, pk: int) -> HttpResponse:
    job = BulkStatusJob.objects.filter(pk=pk, user=request.user).first()
    if job is None:
        from django.http import Http404

        raise Http404("No such job")
    eta = None
    if job.started_at and job.done and job.state == BulkStatusJob.State.RUNNING:
        elapsed = (timezone.now() - job.started_at).total_seconds()
        eta = round(elapsed / (job.done + job.skipped) * (job.total - job.done - job.skipped))
    context = {
        "job": job,
        "eta": eta,
        "page_title": "Change status of all matching alerts",
        "status_label": Status(job.status).label,
        "breadcrumbs": _crumbs({"label": "Security alerts", "url": reverse("alerts:list")}, {"label": "Job"}),
    }
    template = "alerts/bulk_job.html#progress" if request.htmx else "alerts/bulk_job.html"
    return render(request, template, context)


EXPORT_COLUMNS = [
    ("id", "Alert ID"),
    ("title", "Alert title"),
    ("severity", "Severity"),
    ("status", "Status"),
    ("alert_type", "Alert type"),
    ("plan", "Plan"),
    ("intent", "MITRE ATT&CK tactics"),
    ("compromised_entity", "Affected resource"),
    ("vault__name", "Key vault"),
    ("subscription__display_name", "Subscription"),
    ("identity", "Identity"),
    ("caller_ip", "Caller IP"),
    ("start_time", "Activity time"),
    ("time_generated", "Detected time"),
    ("description", "Description"),
    ("alert_uri", "Azure portal link"),
]


def _export_rows(user: User, state: FilterState) -> Iterator[tuple[Any, ...]]:
    """Every matching alert, in batches by keyset (bounded memory, no row cap)."""
    fields = [f for f, _ in EXPORT_COLUMNS]
    time_index = fields.index("time_generated")
    data = dict(state.data)
    while True:
        qs = FilterState(data).apply(selectors.alerts_visible_to(user))
        rows = list(qs.values_list(*fields, "severity_rank", "pk")[:2000])
        if not rows:
            return
        yield from (row[: len(fields)] for row in rows)
        last = rows[-1]
        data["cursor_values"] = [last[time_index], last[-1]]
        if data["sort"] == "severity":
            data["cursor_values"].insert(0, last[-2])


@login_required
@require_GET
def export(request: AuthedRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    _form, state = _state_or_errors(request)
    if state is None:
        return HttpResponseBadRequest("The filter is not valid.")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        status_at, type_at, intent_at = (
            [f for f, _ in EXPORT_COLUMNS].index(name) for name in ("status", "alert_type", "intent")
        )

        def readable(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
            """The codes, then the same in people's words (alerts.labels): for a spreadsheet's reader."""
            for row in rows:
                yield (
                    *row,
                    labels.status_label(row[status_at]),
                    labels.alert_type_name(row[type_at]),
                    labels.tactic_label(row[intent_at]),
                )

        return csv_response(
            [label for _, label in EXPORT_COLUMNS]
            + ["Status (in words)", "Alert type (name)", "MITRE ATT&CK tactics (in words)"],
            readable(_export_rows(request.user, state)),
            filename=f"security-alerts-{stamp}.csv",
            bom=True,
        )
    else:
        keys = [f.replace("__", "_") for f, _ in EXPORT_COLUMNS]

        def json_stream() -> Iterator[str]:
            yield "[\n"
            first = True
            for row in _export_rows(request.user, state):
                item = dict(zip(keys, row, strict=True))
                yield ("" if first else ",\n") + orjson.dumps(item, default=str).decode()
                first = False
            yield "\n]\n"

        response = StreamingHttpResponse(json_stream(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="security-alerts-{stamp}.{fmt}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def sample_alerts(request: AuthedRequest) -> HttpResponse:
    """Sample alerts: Azure's simulate operation creates sample Key Vault alerts; they arrive by the normal sync."""
    subscriptions = list(access.subscriptions_visible_to(request.user, write=True))
    if request.method == "POST":
        sub = access.subscription_get_for_user(
            request.user, cleaned(SubscriptionForm(request.POST), "subscription", 0), write=True
        )
        from alerts.tasks import create_sample_alerts

        create_sample_alerts.delay(sub.pk, request.user.pk)

        audit_record(actor=request.user, action="alerts.sample_requested", obj=sub, request=request)
        messages.success(
            request, f"Sample alerts were requested for {sub}. They appear here after the next sync."
        )
        return redirect("alerts:list")
    return render(
        request,
        "alerts/sample.html",
        {
            "page_title": "Sample alerts",
            "subscriptions": subscriptions,
            "breadcrumbs": _crumbs(
                {"label": "Security alerts", "url": reverse("alerts:list")}, {"label": "Sample alerts"}
            ),
        },
    )


@login_required
@require_GET
def alert_types(request: AuthedRequest) -> HttpResponse:
    counts = selectors.alert_type_counts(request.user)
    rows = [
        {"info": info, "count": counts.get(info.alert_type, 0) + sum(counts.get(a, 0) for a in info.aliases)}
        for info in KEY_VAULT_ALERT_TYPES
    ]
    return render(
        request,
        "alerts/types.html",
        {"page_title": "Alert types", "rows": rows, "breadcrumbs": _crumbs({"label": "Alert types"})},
    )


@login_required
@require_GET
def overview(request: AuthedRequest) -> HttpResponse:
    """Security Center's overview. Someone who holds no role on any subscription is told so first (not shown zeros
    as if their subscriptions were quiet)."""
    if not access.subscriptions_visible_to(request.user).exists():
        return render(
            request,
            "alerts/overview.html",
            {
                "page_title": "Overview",
                "page_subtitle": "Security Center",
                "no_role": True,
                "breadcrumbs": [{"label": "Security Center"}],
            },
        )
    trend = selectors.trend(request.user)
    open_counts = selectors.open_counts_by_severity(request.user)
    return render(
        request,
        "alerts/overview.html",
        {
            "page_title": "Overview",
            "page_subtitle": "Security Center",
            "open_counts": open_counts,
            "open_total": sum(n for _severity, n in open_counts),
            "chart": chart(trend, height=260),
            "top_vaults": selectors.top_vaults(request.user),
            "top_identities": selectors.top_identities(request.user),
            "breadcrumbs": [{"label": "Security Center"}],
        },
    )
