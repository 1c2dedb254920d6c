"""Writes for team triage: assignment, comments, incidents, saved views, retention. Each is audited."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import overload

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from alerts import rollup
from alerts.models import CLOSED_STATUSES, SEVERITY_RANK, Alert, AlertEvent, AlertRollup
from alerts.status import Source, alerts_set_status
from notifications.tasks import notify_assignment
from portal import text
from portal.accounts.selectors import can_see, can_write, can_write_any
from portal.audit.services import audit_record
from triage.models import COMMENT_LIMIT, AlertComment, Incident, SavedView
from triage.selectors import incident_members, saved_views_changed

COMMENT_EDIT_WINDOW = timedelta(minutes=15)
DOUBLE_SUBMIT_WINDOW = timedelta(seconds=30)  # the same thing posted again this soon is the same submission
UNCHOOSABLE = "This person or queue cannot own alerts of this subscription: choose one of those offered."

SEVERITY_BY_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


def _first_action(alert: Alert, now: datetime, user: User) -> None:
    """The first analyst action on an alert starts its time to first action (MTTA)."""
    Alert.objects.filter(pk=alert.pk, first_action_at__isnull=True).update(
        first_action_at=now, first_action_by=user
    )


# --- assignment ----------------------------------------------------------------------------------------------


def alert_assign(
    *,
    user: User,
    alert: Alert,
    assignee: User | None = None,
    group: Group | None = None,
    request: HttpRequest | None = None,
) -> Alert:
    """Give an alert an owner (a user, or a group's queue), or none. The assignee must be able to see the alert."""
    if not can_write(user, alert.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners assign alerts.")
    if assignee is not None and group is not None:
        raise ValidationError("Assign to a user or to a group, not both.")
    if assignee is not None and not (assignee.is_active and can_see(assignee, alert.subscription_id)):
        raise ValidationError({"assignee": UNCHOOSABLE})  # not "<username> has no access": ids are guessable
    if (
        group is not None
        and not group.role_assignments.filter(subscription_id=alert.subscription_id).exists()
    ):
        raise ValidationError({"assignee": UNCHOOSABLE})
    now = timezone.now()
    with transaction.atomic():
        row = Alert.objects.select_for_update().get(pk=alert.pk)
        if (row.assignee_id, row.assignee_group_id) == (
            getattr(assignee, "pk", None),
            getattr(group, "pk", None),
        ):
            return row
        before = {
            "assignee": row.assignee.get_username() if row.assignee is not None else None,
            "group": row.assignee_group.name if row.assignee_group is not None else None,
        }
        row.assignee, row.assignee_group = assignee, group
        row.save(update_fields=["assignee", "assignee_group"])
        after = {
            "assignee": assignee.get_username() if assignee else None,
            "group": group.name if group else None,
        }
        AlertEvent.objects.create(
            alert=row, kind=AlertEvent.Kind.ASSIGNED, actor=user, created_at=now, data=after
        )
        _first_action(row, now, user)
        audit_record(
            actor=user,
            action="alert.assign",
            obj=row,
            before=before,
            after=after,
            request=request,
            subscription=row.subscription_id,
        )
        from triage.webhooks import webhook_event

        webhook_event(row, "alert.assigned", actor=user, extra=after)
        if assignee is not None and assignee != user and assignee.email:
            pk, assignee_pk = row.pk, assignee.pk
            transaction.on_commit(lambda: notify_assignment.delay(pk, assignee_pk))
    return row


def parse_assignee(value: str, user: User) -> tuple[User | None, Group | None]:
    """A form's owner choice: "me", "none", "user:<pk>" or "group:<pk>"."""
    value = (value or "").strip()
    if value == "me":
        return user, None
    if value in ("none", ""):
        return None, None
    kind, _, pk = value.partition(":")
    if not (pk.isdigit() and int(pk) <= text.INT_MAX):
        kind = ""
    if kind == "user" and pk.isdigit():
        found = User.objects.filter(pk=int(pk), is_active=True).first()
        if found is not None:
            return found, None
    if kind == "group" and pk.isdigit():
        group = Group.objects.filter(pk=int(pk)).first()
        if group is not None:
            return None, group
    raise ValidationError(
        {"assignee": "Choose who owns the alert: yourself, a colleague, a queue, or no one."}
    )


def alerts_bulk_assign(
    *,
    user: User,
    alerts: Iterable[Alert],
    assignee: User | None,
    group: Group | None,
    request: HttpRequest | None = None,
) -> tuple[int, list[str]]:
    """Assign each alert the user may change; report the ones refused (read-only role, assignee without access)."""
    changed, refused = 0, []
    for alert in alerts:
        try:
            alert_assign(user=user, alert=alert, assignee=assignee, group=group, request=request)
            changed += 1
        except (PermissionDenied, ValidationError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            refused.append(f"{alert.title or alert.alert_type}: {text}")
    return changed, refused


# --- comments ------------------------------------------------------------------------------------------------


def _check_body(body: str) -> str:
    body = text.check_multi_line(body or "", field="body").strip()
    if not body:
        raise ValidationError({"body": "Write a comment."})
    if len(body) > COMMENT_LIMIT:
        raise ValidationError(
            {"body": f"Keep a comment to {COMMENT_LIMIT:,} characters (this is {len(body):,})."}
        )
    return body


def comment_add(*, user: User, alert: Alert, body: str, request: HttpRequest | None = None) -> AlertComment:
    if not can_write(user, alert.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners comment on alerts.")
    body = _check_body(body)
    now = timezone.now()
    with transaction.atomic():
        # A double submit (the same form posted twice at once) is one comment: the alert row serialises them, and
        # the second finds the first.
        Alert.objects.select_for_update().filter(pk=alert.pk).values_list("pk", flat=True).first()
        same = AlertComment.objects.filter(
            alert=alert, author=user, body=body, created_at__gte=now - DOUBLE_SUBMIT_WINDOW
        ).first()
        if same is not None:
            return same
        comment = AlertComment.objects.create(alert=alert, author=user, body=body, created_at=now)
        AlertEvent.objects.create(
            alert=alert,
            kind=AlertEvent.Kind.COMMENT,
            actor=user,
            created_at=now,
            data={"comment_id": comment.pk},
        )
        _first_action(alert, now, user)
        audit_record(
            actor=user,
            action="alert.comment",
            obj=comment,
            after={"length": len(body)},
            request=request,
            subscription=alert.subscription_id,
            object_repr=f"comment on alert {alert.pk}",
        )
    return comment


def comment_edit(
    *, user: User, comment: AlertComment, body: str, request: HttpRequest | None = None
) -> AlertComment:
    """Only the author, and only for a short while after writing it."""
    if comment.author_id != user.pk:
        raise PermissionDenied("Only the author edits a comment.")
    if timezone.now() - comment.created_at > COMMENT_EDIT_WINDOW:
        raise ValidationError({"body": "Comments can be edited for 15 minutes after they are written."})
    body = _check_body(body)
    before = comment.body
    comment.body, comment.edited_at = body, timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    audit_record(
        actor=user,
        action="alert.comment_edit",
        obj=comment,
        before={"body": before[:500]},
        after={"body": body[:500]},
        request=request,
        subscription=comment.alert.subscription_id,
    )
    return comment


# --- incidents -----------------------------------------------------------------------------------------------


def incidents_attach(*, alert_ids: list[int], subscription_pk: int) -> int:
    """Group these alerts (new ones, typically) with the rest of their subscription by correlation key."""
    keys = set(
        Alert.objects.filter(pk__in=alert_ids)
        .exclude(correlation_key="")
        .values_list("correlation_key", flat=True)
    )
    return incidents_group(subscription_pk=subscription_pk, keys=keys)


def incidents_group(*, subscription_pk: int, keys: Collection[str], now: datetime | None = None) -> int:
    """Bring the incidents of these correlation keys in line with their alerts, set-based: a group of two alerts
    or more, or one Azure calls an incident, is an incident; its count, times and severity follow its alerts, its
    title is its lead alert's (set once). An incident's alerts are those of its subscription with its correlation
    key (`selectors.incident_alerts`): nothing is written on the alerts. Returns how many incidents were created
    or updated.

    Two statements whatever the number of keys (per chunk of 500): one read of the groups, one upsert of the
    incidents; a third only for keys whose group fell below two alerts. The read filters on (subscription,
    correlation key), which `alert_sub_correlation_idx` leads with, so its plan does not depend on fresh statistics
    (a first load grows the alert table faster than autovacuum analyses it).
    """
    ordered = sorted({k for k in keys if k})
    now = now or timezone.now()
    done = 0
    for start in range(0, len(ordered), 500):
        done += _incidents_group_chunk(subscription_pk, ordered[start : start + 500], now)
    return done


# One row per key: its alert count, first start, last detection, top severity, whether Azure flags one as an
# incident, and its lead alert's title and time (incident first, then most severe, then earliest).
#
# PostgreSQL: one index probe per key, a nested loop the planner takes whatever its statistics say (with stale ones,
# as during a first load, a plain `correlation_key IN (…)` was planned as a scan of all the subscription's alerts).
# `correlation_key <> ''` lets it use the partial index for a key that is a parameter.
_GROUPS_SQL_POSTGRES = """
SELECT k.key, g.n, g.first_start, g.last_generated, g.top_rank, g.flagged, g.lead_title, g.lead_time
FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL (
    SELECT count(*) AS n, min(start_time) AS first_start, max(time_generated) AS last_generated,
           max(severity_rank) AS top_rank, max(CASE WHEN is_incident THEN 1 ELSE 0 END) AS flagged,
           (array_agg(CASE WHEN title = '' THEN alert_type ELSE title END
                      ORDER BY is_incident DESC, severity_rank DESC, time_generated, id))[1] AS lead_title,
           (array_agg(time_generated ORDER BY is_incident DESC, severity_rank DESC, time_generated, id))[1]
               AS lead_time
    FROM alerts_alert
    WHERE subscription_id = %s AND correlation_key <> '' AND correlation_key = k.key
) AS g
WHERE g.n > 0
"""
# Other databases (SQLite): grouped, the lead by a correlated subquery on the same index. `{keys}`: placeholders.
_GROUPS_SQL_OTHER = """
SELECT a.correlation_key, count(*), min(a.start_time), max(a.time_generated), max(a.severity_rank),
       max(CASE WHEN a.is_incident THEN 1 ELSE 0 END),
       (SELECT CASE WHEN l.title = '' THEN l.alert_type ELSE l.title END FROM alerts_alert l
        WHERE l.subscription_id = a.subscription_id AND l.correlation_key = a.correlation_key
        ORDER BY l.is_incident DESC, l.severity_rank DESC, l.time_generated, l.id LIMIT 1),
       (SELECT l.time_generated FROM alerts_alert l
        WHERE l.subscription_id = a.subscription_id AND l.correlation_key = a.correlation_key
        ORDER BY l.is_incident DESC, l.severity_rank DESC, l.time_generated, l.id LIMIT 1)
FROM alerts_alert a
WHERE a.subscription_id = %s AND a.correlation_key <> '' AND a.correlation_key IN ({keys})
GROUP BY a.subscription_id, a.correlation_key
"""


def _incidents_group_chunk(subscription_pk: int, keys: list[str], now: datetime) -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_GROUPS_SQL_POSTGRES, [keys, subscription_pk])
        else:
            sql = _GROUPS_SQL_OTHER.format(keys=", ".join(["%s"] * len(keys)))
            cursor.execute(sql, [subscription_pk, *keys])
        groups = cursor.fetchall()
    qualifying: list[Incident] = []
    shrunk: dict[str, int] = dict.fromkeys(keys, 0)
    for key, n, first_start, last_generated, top_rank, flagged, lead_title, lead_time in groups:
        if n < 2 and not flagged:
            shrunk[key] = n
            continue
        del shrunk[key]
        qualifying.append(
            Incident(
                subscription_id=subscription_pk,
                correlation_key=key,
                title=(lead_title or "")[:500],
                alert_count=n,
                severity=SEVERITY_BY_RANK.get(top_rank or 0, "Low"),
                first_time=_aware(first_start or lead_time),
                last_time=_aware(last_generated),
                created_at=now,
            )
        )
    updated = 0
    if shrunk:  # an incident whose alerts moved away keeps its history, with the count it has now
        updated = Incident.objects.filter(
            subscription_id=subscription_pk, correlation_key__in=list(shrunk)
        ).update(alert_count=Case(*[When(correlation_key=k, then=Value(n)) for k, n in shrunk.items()]))
    if qualifying:
        Incident.objects.bulk_create(
            qualifying,
            update_conflicts=True,
            unique_fields=["subscription", "correlation_key"],
            update_fields=["alert_count", "first_time", "last_time", "severity"],
        )
    return updated + len(qualifying)


@overload
def _aware(value: None) -> None: ...
@overload
def _aware(value: datetime | str) -> datetime: ...
def _aware(value: datetime | str | None) -> datetime | None:
    """A time read by a raw query: aware on PostgreSQL, a naive UTC string or datetime on SQLite."""
    if value is None or (isinstance(value, datetime) and timezone.is_aware(value)):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def incident_set_status(
    *,
    user: User,
    incident: Incident,
    status: str,
    classification: str = "",
    comment: str = "",
    request: HttpRequest | None = None,
) -> int:
    """One status for the whole group: every alert of the incident (each written back to Azure)."""
    if not can_write(user, incident.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners change incidents.")
    with transaction.atomic():
        members = list(incident_members(incident).values_list("pk", flat=True))
        alerts_set_status(
            actor=user,
            alert_ids=members,
            status=status,
            source=Source.INCIDENT,
            classification=classification,
            comment=comment,
            request=request,
        )
        changed = len(members)
        audit_record(
            actor=user,
            action="incident.set_status",
            obj=incident,
            after={"status": status, "alerts": changed},
            request=request,
            subscription=incident.subscription_id,
        )
    return changed


def incident_assign(
    *, user: User, incident: Incident, assignee: User | None, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        for alert in incident_members(incident):
            alert_assign(user=user, alert=alert, assignee=assignee, request=request)
        Incident.objects.filter(pk=incident.pk).update(assignee=assignee)
        audit_record(
            actor=user,
            action="incident.assign",
            obj=incident,
            after={"assignee": assignee.get_username() if assignee else None},
            request=request,
            subscription=incident.subscription_id,
        )


# --- saved views ---------------------------------------------------------------------------------------------


def saved_view_save(
    *, user: User, name: str, query: str, shared: bool, request: HttpRequest | None = None
) -> SavedView:
    name = text.check_single_line(name, field="name")
    if not name or len(name) > 80:
        raise ValidationError({"name": "Give the view a name (at most 80 characters)."})
    if shared and not (user.is_superuser or can_write_any(user)):
        raise PermissionDenied("Only Security Admins and Owners share views with the team.")
    view, created = SavedView.objects.update_or_create(
        owner=user, name=name, defaults={"query": query[:4000], "shared": shared}
    )
    audit_record(
        actor=user,
        action="view.save" if created else "view.update",
        obj=view,
        after={"name": name, "shared": shared, "query": query[:500]},
        request=request,
    )
    saved_views_changed()  # now, and again once committed (a page drawn in between must not keep the old menu)
    transaction.on_commit(saved_views_changed)
    return view


def saved_view_delete(*, user: User, view: SavedView, request: HttpRequest | None = None) -> None:
    if view.owner_id != user.pk and not user.is_superuser:
        raise PermissionDenied("Only its owner deletes a view.")
    audit_record(actor=user, action="view.delete", obj=view, before={"name": view.name}, request=request)
    view.delete()
    saved_views_changed()
    transaction.on_commit(saved_views_changed)


# --- retention -----------------------------------------------------------------------------------------------


def retention_candidates(days: int) -> QuerySet[Alert]:
    """Alerts closed (Resolved or Dismissed) more than `days` days ago."""
    cutoff = timezone.now() - timedelta(days=days)
    return Alert.objects.filter(status__in=CLOSED_STATUSES).filter(
        Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, time_generated__lt=cutoff)
    )


def retention_purge(
    *,
    actor: User | None,
    days: int,
    dry_run: bool = True,
    batch: int = 1000,
    request: HttpRequest | None = None,
) -> int:
    """Count (dry run) or delete, in batches, the alerts closed more than `days` days ago. Audited."""
    if days < 1:
        raise ValidationError({"days": "Keep at least one day."})
    qs = retention_candidates(days)
    if dry_run:
        return qs.count()
    from collections import Counter

    deleted = 0
    while True:
        with transaction.atomic():
            rows = list(
                qs.select_for_update(skip_locked=True).only(
                    "id",
                    "time_generated",
                    "subscription_id",
                    "vault_id",
                    "severity",
                    "alert_type",
                    "plan",
                    "status",
                )[:batch]
            )
            if not rows:
                break
            deltas: Counter[rollup.Bucket] = Counter()
            for row in rows:
                deltas[rollup.bucket_of(row)] -= 1
            Alert.objects.filter(pk__in=[r.pk for r in rows]).delete()
            rollup.apply(deltas)
            AlertRollup.objects.filter(count__lte=0).delete()
            deleted += len(rows)
    audit_record(
        actor=actor,
        action="retention.purge",
        object_type="alerts.alert",
        object_repr=f"{deleted} alerts closed more than {days} days ago",
        after={"deleted": deleted, "days": days},
        request=request,
    )
    return deleted
