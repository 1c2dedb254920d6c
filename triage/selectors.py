"""Reads for team triage: who can own alerts, incidents, saved views, and the SOC metrics."""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict
from urllib.parse import parse_qs

from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from alerts.models import CLASSIFICATIONS, OPEN_STATUSES, SEVERITY_RANK, Alert, Status
from portal.accounts.models import WRITE_RANK, RoleAssignment
from portal.accounts.selectors import get_for_user, role_map, scope_to_user, subscription_pks_for
from triage.models import AlertComment, Incident, SavedView, Webhook, WebhookDelivery

MAX_CHOICES = 300


class Owners(TypedDict):
    users: list[User]
    groups: list[Group]


def assignee_choices(user: User) -> Owners:
    """Users and groups that hold a role on a subscription where `user` may assign (the service re-checks each
    alert's subscription)."""
    return owners_with_roles(subscription_pks_for(user, min_rank=WRITE_RANK))


def owners_with_roles(subscription_pks: list[int] | None) -> Owners:
    """The people and group queues holding a role on these subscriptions (None: all), in one query over the role
    assignments. Members who only reach a subscription through a group are assigned through its queue (or by id)."""
    rows = RoleAssignment.objects.select_related("user", "group").order_by()
    if subscription_pks is not None:
        rows = rows.filter(subscription_id__in=subscription_pks)
    users: dict[int, User] = {}
    groups: dict[int, Group] = {}
    for row in rows[: MAX_CHOICES * 10]:
        if row.user_id and row.user is not None and row.user.is_active:
            users[row.user_id] = row.user
        if row.group_id and row.group is not None:
            groups[row.group_id] = row.group
    return {
        "users": sorted(users.values(), key=lambda u: u.username)[:MAX_CHOICES],
        "groups": sorted(groups.values(), key=lambda g: g.name)[:MAX_CHOICES],
    }


def incidents_visible_to(user: User) -> QuerySet[Incident]:
    return scope_to_user(Incident.objects.select_related("subscription", "assignee"), user)


def incident_get_for_user(user: User, pk: int, *, write: bool = False) -> Incident:
    return get_for_user(Incident.objects.select_related("subscription", "assignee"), user, write=write, pk=pk)


def incident_members(incident: Incident) -> QuerySet[Alert]:
    """An incident's alerts: those of its subscription with its correlation key (served by an index on both)."""
    return Alert.objects.filter(
        subscription_id=incident.subscription_id, correlation_key=incident.correlation_key
    )


def incidents_open(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    """The incidents with an alert still Active or In progress."""
    return qs.filter(
        Exists(
            Alert.objects.filter(
                subscription_id=OuterRef("subscription_id"),
                correlation_key=OuterRef("correlation_key"),
                status__in=[Status.ACTIVE, Status.IN_PROGRESS],
            )
        )
    )


def incident_of(alert: Alert) -> Incident | None:
    """The incident an alert belongs to, if its group is one."""
    if not alert.correlation_key:
        return None
    return Incident.objects.filter(
        subscription_id=alert.subscription_id, correlation_key=alert.correlation_key
    ).first()


def incident_alerts(incident: Incident) -> list[Alert]:
    return list(
        incident_members(incident)
        .select_related("vault", "assignee")
        .order_by("start_time", "time_generated", "id")[:500]
    )


class SharedEntity(TypedDict):
    kind: str
    value: str
    count: int


def shared_entities(alerts: list[Alert]) -> list[SharedEntity]:
    """Entities (identity, IP, application, vault) seen in more than one alert of the group, most shared first."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for alert in alerts:
        for kind, value in (
            ("Identity", alert.identity),
            ("IP address", alert.caller_ip),
            ("Key vault", alert.vault.name if alert.vault else ""),
        ):
            if value:
                seen[(kind, value)].add(alert.pk)
        for entity in alert.entities or []:
            if isinstance(entity, dict) and entity.get("type") in ("host", "process", "azure-resource"):
                value = str(
                    entity.get("hostName") or entity.get("processName") or entity.get("resourceId") or ""
                )
                if value:
                    seen[(str(entity["type"]), value[:300])].add(alert.pk)
    shared: list[SharedEntity] = [
        {"kind": k, "value": v, "count": len(ids)} for (k, v), ids in seen.items() if len(ids) > 1
    ]
    return sorted(shared, key=lambda e: (-e["count"], e["kind"], e["value"]))


def _saved_views_of(user: User) -> QuerySet[SavedView]:
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True))


def _visible(user: User, views: list[SavedView]) -> list[SavedView]:
    """The user's own views, and the shared views they are entitled to: a shared view's name and filter are seen
    only by users who can see every subscription its filter names, or, when it names none, by users who share a
    subscription with its owner (an outsider saw every team's views)."""
    mine = subscription_pks_for(user)
    owners: dict[int, list[int] | None] = {}
    result = []
    for view in views:
        if view.owner_id == user.pk:
            result.append(view)
            continue
        named = {int(v) for v in parse_qs(view.query).get("subscription", []) if v.isdigit()}
        if mine is None:  # a superuser sees every subscription
            result.append(view)
        elif named:
            if named <= set(mine):
                result.append(view)
        else:
            if view.owner_id not in owners:
                owners[view.owner_id] = subscription_pks_for(view.owner)
            theirs = owners[view.owner_id]
            if set(mine) & (set(theirs) if theirs is not None else set(mine)):
                result.append(view)
    return result


def saved_views_for(user: User) -> list[SavedView]:
    candidates = list(_saved_views_of(user).select_related("owner").order_by("name")[:200])
    return _visible(user, candidates)[:30]


def saved_view_get_for_user(user: User, pk: int) -> SavedView | None:
    """A view the user owns or that is shared with them (see `_visible`); None otherwise."""
    view = _saved_views_of(user).select_related("owner").filter(pk=pk).first()
    return view if view is not None and _visible(user, [view]) else None


MENU_VERSION_KEY = "savedviews:version"


class SavedViewItem(TypedDict):
    name: str
    query: str
    shared: bool
    mine: bool


def saved_views_menu(user: User) -> list[SavedViewItem]:
    """The left menu's saved views, cached (every page shows them); any save or delete invalidates all users'."""
    version = cache.get_or_set(MENU_VERSION_KEY, 1, timeout=None)
    # the user's roles are part of the key: a role taken away hides the shared views it entitled them to at once
    roles = hashlib.blake2b(repr(sorted(role_map(user).items())).encode(), digest_size=8).hexdigest()
    key = f"savedviews:{version}:{user.pk}:{roles}"
    items: list[SavedViewItem] | None = cache.get(key)
    if items is None:
        items = [
            {"name": v.name, "query": v.query, "shared": v.shared, "mine": v.owner_id == user.pk}
            for v in saved_views_for(user)
        ]
        cache.set(key, items, timeout=300)
    return items


def saved_views_changed() -> None:
    try:
        cache.incr(MENU_VERSION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.set(MENU_VERSION_KEY, 2, timeout=None)


def webhooks_visible_to(user: User) -> QuerySet[Webhook]:
    return scope_to_user(Webhook.objects.select_related("subscription"), user)


def webhook_get_for_user(user: User, pk: int, *, write: bool = False) -> Webhook:
    return get_for_user(Webhook.objects.select_related("subscription"), user, write=write, pk=pk)


def deliveries_for(webhook: Webhook, *, limit: int = 50) -> list[WebhookDelivery]:
    return list(webhook.deliveries.order_by("-created_at", "-id")[:limit])


def with_last_delivery(hooks: QuerySet[Webhook]) -> Sequence[Webhook]:
    """The hooks, each with `hook.last` (its newest delivery, or None), in two queries however many there are."""
    newest = (
        WebhookDelivery.objects.filter(webhook=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
    )
    rows = list(hooks.annotate(last_id=Subquery(newest)))
    deliveries = WebhookDelivery.objects.in_bulk([h.last_id for h in rows if h.last_id])
    for hook in rows:
        hook.last = deliveries.get(hook.last_id)  # type: ignore[attr-defined]  # not a field: for the template
    return rows


def comments_for(alert: Alert) -> QuerySet[AlertComment]:
    return AlertComment.objects.filter(alert=alert).select_related("author").order_by("created_at", "id")


# --- SOC metrics ---------------------------------------------------------------------------------------------

METRIC_ROWS_CAP = 200_000
AGE_BUCKETS = [
    ("Under 1 day", timedelta(days=1)),
    ("1 to 7 days", timedelta(days=7)),
    ("7 to 30 days", timedelta(days=30)),
    ("30 to 90 days", timedelta(days=90)),
    ("Over 90 days", None),
]


class ClassificationRow(TypedDict):
    type: str
    total: int
    counts: list[tuple[str, int]]
    false_positive_share: int


def _p90(values: list[float]) -> float:
    """The 90th percentile, nearest-rank (a value that really occurred)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * 9 // 10))  # ceil(0.9 n)
    return ordered[rank - 1]


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    return {"n": len(values), "median": statistics.median(values), "p90": _p90(values)}


def soc_metrics(
    user: User, *, now: datetime, days: int = 30, subscription_pk: int | None = None
) -> dict[str, Any]:
    """MTTA (detected → first analyst action) and MTTR (detected → closed by an analyst), in minutes, per severity,
    alert type, key vault and analyst, and per week; open alerts by age; classifications by alert type.

    Alerts detected in the last `days` days count. All times against `now`, so that a frozen clock gives fixed
    figures.
    """
    since = now - timedelta(days=days)
    scope = scope_to_user(Alert.objects.all(), user)
    if subscription_pk:
        scope = scope.filter(subscription_id=subscription_pk)
    rows = (
        scope.filter(time_generated__gte=since, time_generated__lte=now)
        .filter(Q(first_action_at__isnull=False) | Q(closed_at__isnull=False))
        .values_list(
            "time_generated",
            "first_action_at",
            "closed_at",
            "severity",
            "alert_type",
            "vault__name",
            "first_action_by__username",
            "closed_by__username",
        )
        .order_by()[:METRIC_ROWS_CAP]
    )
    groups: dict[str, dict[str, dict[str, list[float]]]] = {
        name: defaultdict(lambda: {"mtta": [], "mttr": []})
        for name in ("severity", "type", "vault", "analyst", "week")
    }
    overall: dict[str, list[float]] = {"mtta": [], "mttr": []}
    for detected, acted, closed, severity, alert_type, vault, actor, closer in rows:
        week = (detected - timedelta(days=detected.weekday())).date().isoformat()
        if acted is not None and acted >= detected:
            minutes = (acted - detected).total_seconds() / 60
            overall["mtta"].append(minutes)
            for name, key in (
                ("severity", severity),
                ("type", alert_type),
                ("vault", vault or "(no vault)"),
                ("analyst", actor or "(former user)"),
                ("week", week),
            ):
                groups[name][key]["mtta"].append(minutes)
        if closed is not None and closed >= detected:
            minutes = (closed - detected).total_seconds() / 60
            overall["mttr"].append(minutes)
            for name, key in (
                ("severity", severity),
                ("type", alert_type),
                ("vault", vault or "(no vault)"),
                ("analyst", closer or "(former user)"),
                ("week", week),
            ):
                groups[name][key]["mttr"].append(minutes)

    def table(
        name: str, order: Callable[[tuple[str, dict[str, list[float]]]], int] | None = None
    ) -> list[dict[str, Any]]:
        items = groups[name].items()
        ordered = sorted(items, key=order) if order else sorted(items)
        return [{"key": key, "mtta": _summary(v["mtta"]), "mttr": _summary(v["mttr"])} for key, v in ordered]

    open_alerts = scope.filter(status__in=OPEN_STATUSES)
    age_counts = open_alerts.aggregate(
        **{f"b{i}": Count("id", filter=_age_filter(now, i)) for i in range(len(AGE_BUCKETS))}
    )
    labels = dict(CLASSIFICATIONS)
    classified: Counter[str] = Counter()
    per_type: dict[str, Counter[str]] = defaultdict(Counter)
    for alert_type, classification, n in (
        scope.filter(time_generated__gte=since, time_generated__lte=now)
        .exclude(classification="")
        .values_list("alert_type", "classification")
        .annotate(n=Count("id"))
        .order_by()
    ):
        per_type[alert_type][classification] += n
        classified[classification] += n
    by_type: list[ClassificationRow] = []
    for alert_type, counts in per_type.items():
        total = sum(counts.values())
        by_type.append(
            {
                "type": alert_type,
                "total": total,
                "counts": [(value, counts.get(value, 0)) for value, _ in CLASSIFICATIONS],
                "false_positive_share": round(100 * counts.get("FalsePositive", 0) / total),
            }
        )
    by_type.sort(key=lambda r: (-r["false_positive_share"], -r["total"], r["type"]))
    return {
        "since": since,
        "now": now,
        "days": days,
        "overall": {"mtta": _summary(overall["mtta"]), "mttr": _summary(overall["mttr"])},
        "by_severity": table("severity", order=lambda kv: -SEVERITY_RANK.get(kv[0], 0)),
        "by_type": table("type"),
        "by_vault": table("vault"),
        "by_analyst": table("analyst"),
        "by_week": table("week"),
        "open_by_age": [(label, age_counts[f"b{i}"]) for i, (label, _) in enumerate(AGE_BUCKETS)],
        "classifications": [(labels[value], classified.get(value, 0)) for value, _ in CLASSIFICATIONS],
        "classification_by_type": by_type,
        "capped": len(rows) >= METRIC_ROWS_CAP,
    }


def _age_filter(now: datetime, index: int) -> Q:
    upper = AGE_BUCKETS[index][1]
    lower = AGE_BUCKETS[index - 1][1] if index else None
    q = Q()
    if upper is not None:
        q &= Q(time_generated__gt=now - upper)
    if lower is not None:
        q &= Q(time_generated__lte=now - lower)
    return q
