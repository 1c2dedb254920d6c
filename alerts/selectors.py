"""Reads of alerts, scoped to the subscriptions the user holds a role on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypedDict

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import CharField, Count, Q, QuerySet, Sum, Value
from django.utils import timezone

from alerts import hooks
from alerts.filters import AlertFilterForm, FilterState
from alerts.models import OPEN_STATUSES, Alert, AlertEvent, AlertRollup, Status
from portal.accounts.selectors import get_for_user, scope_to_user, subscriptions_visible_to
from portal.inventory.selectors import vaults_visible_to

SEVERITY_ORDER = ["High", "Medium", "Low", "Informational"]
COUNT_CAP = 1000


def alerts_visible_to(user: User) -> QuerySet[Alert]:
    return scope_to_user(Alert.objects.all(), user)


def alert_get_for_user(user: User, pk: int, *, write: bool = False) -> Alert:
    return get_for_user(
        hooks.annotate(Alert.objects.select_related("subscription", "vault", "assignee", "assignee_group")),
        user,
        write=write,
        pk=pk,
    )


def filter_form(user: User, data: Mapping[str, Any]) -> AlertFilterForm:
    subscriptions = list(subscriptions_visible_to(user).values_list("pk", "display_name"))
    vaults = list(vaults_visible_to(user).order_by("name").values_list("pk", "name")[:2000])
    return AlertFilterForm(data, subscriptions=subscriptions, vaults=vaults, user_pk=user.pk)


def filter_state(user: User, data: Mapping[str, Any]) -> tuple[AlertFilterForm, FilterState | None]:
    """The Security alerts filter from query parameters: the bound form, and its state (None when it has errors)."""
    form = filter_form(user, data)
    return form, FilterState(form.cleaned_data) if form.is_valid() else None


@dataclass
class AlertPage:
    rows: list[Alert]
    next_cursor: str | None
    state: FilterState


def alerts_page(user: User, state: FilterState, *, page_size: int) -> AlertPage:
    from alerts.filters import encode_cursor

    qs = (
        hooks.annotate(state.apply(alerts_visible_to(user)))
        .select_related("vault", "subscription")
        .only(
            "id",
            "title",
            "alert_type",
            "severity",
            "severity_rank",
            "status",
            "pending_status",
            "pending_failed",
            "intent",
            "start_time",
            "time_generated",
            "compromised_entity",
            "identity",
            "caller_ip",
            "plan",
            "vault__id",
            "vault__name",
            "subscription__id",
            "subscription__display_name",
            "assignee__id",
            "assignee__username",
            "assignee_group__id",
            "assignee_group__name",
        )
        .select_related("assignee", "assignee_group")
    )
    rows = list(qs[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    cursor = encode_cursor(rows[-1], state.data["sort"]) if more and rows else None
    return AlertPage(rows=rows, next_cursor=cursor, state=state)


def ownership_counts(user: User) -> dict[str, Any]:
    """Open alerts assigned to me, and open alerts nobody owns (counted up to the cap)."""
    open_alerts = alerts_visible_to(user).filter(status__in=OPEN_STATUSES).order_by()
    mine = open_alerts.filter(assignee=user).values("pk")[: COUNT_CAP + 1].count()
    unowned = (
        open_alerts.filter(assignee__isnull=True, assignee_group__isnull=True)
        .values("pk")[: COUNT_CAP + 1]
        .count()
    )
    return {
        "mine": min(mine, COUNT_CAP),
        "unassigned": min(unowned, COUNT_CAP),
        "cap": COUNT_CAP,
        "mine_capped": mine > COUNT_CAP,
        "unassigned_capped": unowned > COUNT_CAP,
    }


def exact_count(user: User, state: FilterState) -> int:
    """The exact number, computed once when a user confirms a bulk change of 'all N alerts matching'."""
    return state.apply(alerts_visible_to(user), with_cursor=False).order_by().count()


def _rollup_scope(user: User, state: FilterState) -> QuerySet[AlertRollup] | None:
    """The rollup rows for a filter, or None when the filter needs the alert table (free text, precise times)."""
    d = state.data
    if d.get("q") or d.get("range") == "custom" or d.get("assignee"):
        return None
    return _rollup_rows(user, state)


def _rollup_rows(user: User, state: FilterState) -> QuerySet[AlertRollup]:
    """The rollup rows for a filter the rollup answers (no free text, custom range or owner: `_rollup_scope`)."""
    d = state.data
    qs = state.filter_dimensions(scope_to_user(AlertRollup.objects.all(), user))
    if d.get("severity"):
        qs = qs.filter(severity__in=d["severity"])
    start, _ = state.time_bounds()
    if start:
        qs = qs.filter(day__gte=start.date())
    return qs


STATUS_ORDER = [s.value for s in Status]


def facet_counts(user: User, state: FilterState) -> dict[str, Any]:
    """The filter bar's pills: alerts per severity under every filter but severity (and the chosen statuses), and
    per status under every filter but status (and the chosen severities), so each option says what choosing it
    would show. One grouped query on the rollup; for free text, a custom range or an owner, capped counts."""
    d = state.data
    chosen_severities = set(d.get("severity") or SEVERITY_ORDER)
    chosen_statuses = set(d.get("status") or STATUS_ORDER)
    wide = FilterState({**d, "severity": [], "status": []})
    rollup = _rollup_scope(user, wide)
    over: set[str] = set()  # the values counted up to the cap only
    if rollup is not None:
        grid: Counter[tuple[str, str]] = Counter()
        for severity, status, n in (
            rollup.values_list("severity", "status").annotate(n=Sum("count")).order_by()
        ):
            grid[(severity, status)] += n or 0
        by_severity = {
            s: sum(n for (sev, st), n in grid.items() if sev == s and st in chosen_statuses)
            for s in SEVERITY_ORDER
        }
        by_status = {
            s: sum(n for (sev, st), n in grid.items() if st == s and sev in chosen_severities)
            for s in STATUS_ORDER
        }
    else:
        qs = wide.apply(alerts_visible_to(user), with_cursor=False).order_by()
        by_severity, by_status = {}, {}
        for s in SEVERITY_ORDER:
            n = qs.filter(severity=s, status__in=chosen_statuses).values("pk")[: COUNT_CAP + 1].count()
            by_severity[s] = min(n, COUNT_CAP)
            if n > COUNT_CAP:
                over.add(s)
        for s in STATUS_ORDER:
            n = qs.filter(status=s, severity__in=chosen_severities).values("pk")[: COUNT_CAP + 1].count()
            by_status[s] = min(n, COUNT_CAP)
            if n > COUNT_CAP:
                over.add(s)
    return {
        "severity": by_severity,
        "status": by_status,
        "total": sum(n for s, n in by_severity.items() if s in chosen_severities),
        "capped": bool(over),
        "over": over,
        "approximate": d.get("range") == "24h" and rollup is not None,
    }


def trend(user: User, state: FilterState | None = None, *, days: int = 30) -> dict[str, Any]:
    """Alerts per day by severity over the last `days` days (from the rollup)."""
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    if state is None:
        qs = scope_to_user(AlertRollup.objects.all(), user)
    else:
        scoped = _rollup_scope(user, state)
        if scoped is None:  # free text or owner: the trend shows the filter without them
            scoped = _rollup_rows(user, FilterState({**state.data, "q": "", "range": "all", "assignee": ""}))
        qs = scoped
    rows = qs.filter(day__gte=first).values_list("day", "severity").annotate(n=Sum("count")).order_by()
    per_day: dict[date, Counter[str]] = {first + timedelta(days=i): Counter() for i in range(days)}
    for day, severity, n in rows:
        if day in per_day:
            per_day[day][severity] += n or 0
    totals = {d: sum(c.values()) for d, c in per_day.items()}
    series = [{"day": d, **{s: c[s] for s in SEVERITY_ORDER}, "total": totals[d]} for d, c in per_day.items()]
    return {"days": series, "max": max([*totals.values(), 1])}


def related_alerts(user: User, alert: Alert, *, limit: int = 10) -> dict[str, list[Alert]]:
    """Same correlation key; same identity or IP (30 days); same vault (within 7 days): one UNION query, each part
    walking its own (column, time) index."""
    base = (
        alerts_visible_to(user)
        .exclude(pk=alert.pk)
        .only("id", "title", "severity", "status", "time_generated", "alert_type")
        .order_by("-time_generated", "-id")
    )
    month = alert.time_generated - timedelta(days=30)
    parts = []
    if alert.correlation_key:
        parts.append(
            (
                "correlated",
                base.filter(subscription_id=alert.subscription_id, correlation_key=alert.correlation_key),
            )
        )
    if alert.identity:
        parts.append(("same_entity", base.filter(identity=alert.identity, time_generated__gte=month)))
    if alert.caller_ip:
        parts.append(("same_entity", base.filter(caller_ip=alert.caller_ip, time_generated__gte=month)))
    if alert.vault_id:
        parts.append(
            (
                "same_vault",
                base.filter(
                    vault_id=alert.vault_id,
                    time_generated__gte=alert.time_generated - timedelta(days=7),
                    time_generated__lte=alert.time_generated + timedelta(days=7),
                ),
            )
        )
    result: dict[str, list[Alert]] = {"correlated": [], "same_entity": [], "same_vault": []}
    if not parts:
        return result
    queries = [qs.annotate(related_kind=Value(kind, output_field=CharField()))[:limit] for kind, qs in parts]
    if len(queries) > 1 and connection.features.supports_slicing_ordering_in_compound:
        rows = list(queries[0].union(*queries[1:], all=True))
    else:  # SQLite: no LIMIT inside a UNION's parts, so one query per part
        rows = [row for q in queries for row in q]
    seen: dict[str, set[int]] = {k: set() for k in result}
    for row in sorted(rows, key=lambda a: (a.time_generated, a.pk), reverse=True):
        if row.pk not in seen[row.related_kind] and len(result[row.related_kind]) < limit:
            seen[row.related_kind].add(row.pk)
            result[row.related_kind].append(row)
    return result


def alert_activity(alert: Alert) -> list[AlertEvent]:
    return list(alert.events.select_related("actor").order_by("-created_at", "-id")[:200])


def alerts_quick_search(user: User, query: str, *, limit: int = 8) -> list[Alert]:
    """The top bar's search: an alert id, or text in title / entities / IP / UPN / application."""
    term = query.strip().lower()
    if not term:
        return []
    qs = (
        alerts_visible_to(user)
        .select_related("vault")
        .only(
            "id",
            "title",
            "alert_type",
            "severity",
            "time_generated",
            "compromised_entity",
            "vault_id",
            "vault__name",
        )
    )
    exact = list(qs.filter(Q(arm_id=term) | Q(name__iexact=term) | Q(system_alert_id__iexact=term))[:limit])
    if exact:
        return exact
    return list(qs.filter(search_text__contains=term).order_by("-time_generated", "-id")[:limit])


def open_counts_by_severity(user: User) -> list[tuple[str, int]]:
    rows = dict(
        scope_to_user(AlertRollup.objects.filter(status__in=OPEN_STATUSES), user)
        .values_list("severity")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return [(s, rows.get(s, 0) or 0) for s in SEVERITY_ORDER]


def top_vaults(user: User, *, limit: int = 5) -> list[dict[str, Any]]:
    rows = (
        scope_to_user(AlertRollup.objects.filter(status__in=OPEN_STATUSES).exclude(vault_id=0), user)
        .values("vault_id")
        .annotate(n=Sum("count"))
        .order_by("-n")[:limit]
    )
    names = dict(
        vaults_visible_to(user).filter(pk__in=[r["vault_id"] for r in rows]).values_list("pk", "name")
    )
    return [{"vault_id": r["vault_id"], "name": names.get(r["vault_id"], "?"), "count": r["n"]} for r in rows]


class IdentityCount(TypedDict):
    identity: str
    count: int


def top_identities(user: User, *, limit: int = 5) -> list[IdentityCount]:
    return list(
        alerts_visible_to(user)
        .filter(status__in=OPEN_STATUSES)
        .exclude(identity="")
        .values("identity")
        .annotate(count=Count("id"))
        .order_by("-count")[:limit]
    )


def alert_type_counts(user: User) -> dict[str, int]:
    return dict(
        scope_to_user(AlertRollup.objects.all(), user)
        .values_list("alert_type")
        .annotate(n=Sum("count"))
        .order_by()
    )
