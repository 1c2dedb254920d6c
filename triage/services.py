"""Writes for team triage: assignment, comments, incidents, saved views, retention. Each is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest
from django.utils import timezone

from alerts.models import CLOSED_STATUSES, SEVERITY_RANK, Alert, AlertEvent, AlertRollup
from portal.accounts.selectors import can_see, can_write, can_write_any
from portal.audit.services import audit_record
from triage.models import COMMENT_LIMIT, AlertComment, Incident, SavedView
from triage.selectors import saved_views_changed

COMMENT_EDIT_WINDOW = timedelta(minutes=15)

SEVERITY_BY_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}


def _first_action(alert: Alert, now: Any, user: Any) -> None:
    """The first analyst action on an alert starts its time to first action (MTTA)."""
    Alert.objects.filter(pk=alert.pk, first_action_at__isnull=True).update(
        first_action_at=now, first_action_by=user
    )


# --- assignment ----------------------------------------------------------------------------------------------


def alert_assign(
    *,
    user: Any,
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
        raise ValidationError(
            {"assignee": f"{assignee.get_username()} has no access to this alert's subscription."}
        )
    if (
        group is not None
        and not group.role_assignments.filter(subscription_id=alert.subscription_id).exists()
    ):
        raise ValidationError(
            {"assignee": f"The group {group.name} has no role on this alert's subscription."}
        )
    now = timezone.now()
    with transaction.atomic():
        row = Alert.objects.select_for_update().get(pk=alert.pk)
        if (row.assignee_id, row.assignee_group_id) == (
            getattr(assignee, "pk", None),
            getattr(group, "pk", None),
        ):
            return row
        before = {
            "assignee": row.assignee.get_username() if row.assignee_id else None,
            "group": row.assignee_group.name if row.assignee_group_id else None,
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
            from alerts.tasks import notify_assignment

            pk, assignee_pk = row.pk, assignee.pk
            transaction.on_commit(lambda: notify_assignment.delay(pk, assignee_pk))
    return row


def parse_assignee(value: str, user: Any) -> tuple[User | None, Group | None]:
    """A form's owner choice: "me", "none", "user:<pk>" or "group:<pk>"."""
    value = (value or "").strip()
    if value == "me":
        return user, None
    if value in ("none", ""):
        return None, None
    kind, _, pk = value.partition(":")
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
    *, user: Any, alerts: Any, assignee: User | None, group: Group | None, request: HttpRequest | None = None
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
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a comment."})
    if len(body) > COMMENT_LIMIT:
        raise ValidationError(
            {"body": f"Keep a comment to {COMMENT_LIMIT:,} characters (this is {len(body):,})."}
        )
    return body


def comment_add(*, user: Any, alert: Alert, body: str, request: HttpRequest | None = None) -> AlertComment:
    if not can_write(user, alert.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners comment on alerts.")
    body = _check_body(body)
    now = timezone.now()
    with transaction.atomic():
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
    *, user: Any, comment: AlertComment, body: str, request: HttpRequest | None = None
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
    """Group new alerts by correlation key into incidents (two alerts or more, or one Azure calls an incident)."""
    keys = set(
        Alert.objects.filter(pk__in=alert_ids)
        .exclude(correlation_key="")
        .values_list("correlation_key", flat=True)
    )
    if not keys:
        return 0
    now = timezone.now()
    groups = (
        Alert.objects.filter(subscription_id=subscription_pk, correlation_key__in=keys)
        .values("correlation_key")
        .annotate(
            n=Count("id"),
            first=Min("start_time"),
            last=Max("time_generated"),
            rank=Max("severity_rank"),
            incident=Count("id", filter=Q(is_incident=True)),
        )
    )
    attached = 0
    for g in groups:
        if g["n"] < 2 and not g["incident"]:
            continue
        members = Alert.objects.filter(subscription_id=subscription_pk, correlation_key=g["correlation_key"])
        lead = members.order_by("-is_incident", "-severity_rank", "time_generated").first()
        severity = SEVERITY_BY_RANK.get(g["rank"] or 0, "Low")
        incident, _created = Incident.objects.update_or_create(
            subscription_id=subscription_pk,
            correlation_key=g["correlation_key"],
            defaults={
                "alert_count": g["n"],
                "first_time": g["first"] or lead.time_generated,
                "last_time": g["last"],
                "severity": severity,
            },
            create_defaults={
                "title": (lead.title or lead.alert_type)[:500],
                "alert_count": g["n"],
                "severity": severity,
                "first_time": g["first"] or lead.time_generated,
                "last_time": g["last"],
                "created_at": now,
            },
        )
        attached += members.filter(incident__isnull=True).update(incident=incident)
    return attached


def incident_set_status(
    *,
    user: Any,
    incident: Incident,
    status: str,
    classification: str = "",
    comment: str = "",
    request: HttpRequest | None = None,
) -> int:
    """One status for the whole group: every alert of the incident (each written back to Azure)."""
    from alerts.services import alert_set_status

    if not can_write(user, incident.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners change incidents.")
    changed = 0
    with transaction.atomic():
        for alert in Alert.objects.filter(incident=incident):
            alert_set_status(
                user=user,
                alert=alert,
                status=status,
                source="incident",
                classification=classification,
                comment=comment,
                request=request,
            )
            changed += 1
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
    *, user: Any, incident: Incident, assignee: User | None, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        for alert in Alert.objects.filter(incident=incident):
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
    *, user: Any, name: str, query: str, shared: bool, request: HttpRequest | None = None
) -> SavedView:
    name = (name or "").strip()
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


def saved_view_delete(*, user: Any, view: SavedView, request: HttpRequest | None = None) -> None:
    if view.owner_id != user.pk and not user.is_superuser:
        raise PermissionDenied("Only its owner deletes a view.")
    audit_record(actor=user, action="view.delete", obj=view, before={"name": view.name}, request=request)
    view.delete()
    saved_views_changed()
    transaction.on_commit(saved_views_changed)


# --- retention -----------------------------------------------------------------------------------------------


def retention_candidates(days: int) -> Any:
    """Alerts closed (Resolved or Dismissed) more than `days` days ago."""
    cutoff = timezone.now() - timedelta(days=days)
    return Alert.objects.filter(status__in=CLOSED_STATUSES).filter(
        Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, time_generated__lt=cutoff)
    )


def retention_purge(
    *, actor: Any, days: int, dry_run: bool = True, batch: int = 1000, request: HttpRequest | None = None
) -> int:
    """Count (dry run) or delete, in batches, the alerts closed more than `days` days ago. Audited."""
    if days < 1:
        raise ValidationError({"days": "Keep at least one day."})
    qs = retention_candidates(days)
    if dry_run:
        return qs.count()
    from collections import Counter

    from alerts import rollup

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
