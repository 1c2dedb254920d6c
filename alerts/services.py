"""Writes on alerts: status changes (saved as pending, pushed to Azure by a task), and the new-alert hook."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alerts import hooks, rollup
from alerts.hooks import ChangedAlerts, NewAlerts
from alerts.models import CLASSIFICATIONS, CLOSED_STATUSES, Alert, AlertEvent, Status
from portal import text
from portal.accounts.selectors import can_write
from portal.audit.services import audit_record
from portal.stages import stage

log = logging.getLogger(__name__)
CLASSIFICATION_VALUES = {value for value, _ in CLASSIFICATIONS}
COMMENT_LIMIT = 10_000


CLOSE_SOURCES = {
    "portal",
    "bulk",
    "bulk-filter",
    "api",
    "incident",
    "admin",
}  # analysts: a close needs a classification


def alert_set_status(
    *,
    user: Any,
    alert: Alert,
    status: str,
    request: HttpRequest | None = None,
    source: str = "portal",
    classification: str = "",
    comment: str = "",
) -> Alert:
    """An analyst sets an alert's status: stored at once as pending, then written back to Azure by a task.

    Moving to Resolved or Dismissed asks for a classification (true / benign / false positive, undetermined) and an
    optional comment.
    """
    if status not in Status.values:
        raise ValidationError(
            {"status": f"Unknown status {status!r}. Use Active, InProgress, Resolved or Dismissed."}
        )
    closing = status in CLOSED_STATUSES
    if closing and source in CLOSE_SOURCES and classification not in CLASSIFICATION_VALUES:
        raise ValidationError(
            {
                "classification": "Say why the alert is closed: true positive, benign positive, "
                "false positive or undetermined."
            }
        )
    check_comment(comment)
    if user is not None and not can_write(user, alert.subscription_id):
        raise PermissionDenied(
            "Your role on this subscription is read-only (Security Admin or Owner required)."
        )
    with transaction.atomic():
        row = Alert.objects.select_for_update().get(pk=alert.pk)
        unchanged = row.status == status and (
            row.pending_status == status or (not row.pending_status and row.azure_status == status)
        )
        if unchanged and (not closing or row.classification == classification or not classification):
            return row  # already so (a double submit): nothing to do
        before = {
            "status": row.status,
            "pending_status": row.pending_status,
            "classification": row.classification,
        }
        old_bucket = rollup.bucket_of(row)
        now = timezone.now()
        fields = ["status", "classification", "classification_comment", "closed_at", "closed_by"]
        if not unchanged:
            row.status = status
            row.pending_status = status
            row.pending_since = now
            row.pending_attempts = 0
            row.pending_error = ""
            row.pending_failed = False
            fields += [
                "pending_status",
                "pending_since",
                "pending_attempts",
                "pending_error",
                "pending_failed",
            ]
        if closing:
            row.classification = classification or row.classification
            row.classification_comment = (comment or "").strip()
            if row.closed_at is None:
                row.closed_at, row.closed_by = now, user
        else:
            row.classification, row.classification_comment, row.closed_at, row.closed_by = "", "", None, None
        if user is not None and row.first_action_at is None:
            row.first_action_at, row.first_action_by = now, user
            fields += ["first_action_at", "first_action_by"]
        row.save(update_fields=fields)
        rollup.move_one(old_bucket, rollup.bucket_of(row))
        AlertEvent.objects.create(
            alert=row,
            kind=AlertEvent.Kind.STATUS_REQUESTED,
            actor=user if user else None,
            created_at=now,
            data={
                "from": before["status"],
                "to": status,
                "source": source,
                **({"classification": classification, "comment": comment[:500]} if closing else {}),
            },
        )
        audit_record(
            actor=user,
            action="alert.set_status",
            obj=row,
            before=before,
            after={"status": status, "classification": row.classification},
            request=request,
            subscription=row.subscription_id,
        )
        from alerts.tasks import push_alert_status  # tasks import these services

        if not unchanged:
            transaction.on_commit(lambda: push_alert_status.delay(row.pk))
            hooks.status_changed(
                hooks.StatusChange(alerts=[row], before={row.pk: before["status"]}, source=source, actor=user)
            )
    return row


def check_comment(comment: str | None) -> None:
    """A status change's comment: multi-line text (portal.text) that fits COMMENT_LIMIT."""
    if len(comment or "") > COMMENT_LIMIT:
        raise ValidationError({"comment": f"Keep the comment to {COMMENT_LIMIT:,} characters."})
    text.check_multi_line(comment or "", field="comment")


def alerts_set_status_many(
    *,
    user: Any,
    alerts: Iterable[Alert],
    status: str,
    source: str,
    request: HttpRequest | None = None,
    classification: str = "",
    comment: str = "",
) -> tuple[int, int]:
    """`alert_set_status` on each alert the user may write; (changed, refused for a read-only role)."""
    check_comment(comment)  # before the first alert changes
    changed = refused = 0
    for alert in alerts:
        if not can_write(user, alert.subscription_id):
            refused += 1
            continue
        alert_set_status(
            user=user,
            alert=alert,
            status=status,
            request=request,
            source=source,
            classification=classification,
            comment=comment,
        )
        changed += 1
    return changed, refused


def alert_status_confirmed(*, alert_pk: int, status: str) -> bool:
    """Azure accepted the change (204). Conditional: a newer request for another status stays pending."""
    now = timezone.now()
    updated = Alert.objects.filter(pk=alert_pk, pending_status=status).update(
        pending_status="",
        azure_status=status,
        pending_error="",
        pending_failed=False,
        pending_since=None,
        pending_attempts=0,
    )
    if updated:
        AlertEvent.objects.create(
            alert_id=alert_pk,
            kind=AlertEvent.Kind.STATUS_CONFIRMED,
            created_at=now,
            data={"status": status, "via": "write-back"},
        )
    return bool(updated)


def alert_status_attempt_failed(*, alert_pk: int, status: str, error: str, final: bool) -> None:
    """A push failed. Transient: recorded and retried. Final: the alert goes back to Azure's status, error shown."""
    now = timezone.now()
    with transaction.atomic():
        row = Alert.objects.select_for_update().filter(pk=alert_pk, pending_status=status).first()
        if row is None:
            return
        row.pending_attempts += 1
        row.pending_error = error[:2000]
        fields = ["pending_attempts", "pending_error"]
        if final:
            old_bucket = rollup.bucket_of(row)
            row.pending_failed = True
            row.pending_status = ""
            row.pending_since = None
            row.status = row.azure_status or row.status
            fields += ["pending_failed", "pending_status", "pending_since", "status"]
            row.save(update_fields=fields)
            rollup.move_one(old_bucket, rollup.bucket_of(row))
            AlertEvent.objects.create(
                alert=row,
                kind=AlertEvent.Kind.STATUS_FAILED,
                created_at=now,
                data={"status": status, "error": error[:500]},
            )
        else:
            row.save(update_fields=fields)


def alerts_on_new(
    *,
    alert_ids: list[int],
    subscription_pk: int,
    backlog: bool,
    correlation_keys: Collection[str] | None = None,
    candidates: dict[int, tuple[str, list[Any]]] | None = None,
) -> NewAlerts:
    """Every alert the portal sees for the first time comes through here, once, in the transaction that stored it.

    `backlog` is True for the subscription's first sync (history, not news). The apps above alerts act through
    their `new_alerts` hooks (alerts.hooks), in order: suppression rules dismiss what matches, incidents group by
    correlation key, notifications and webhooks announce the rest (never suppressed or backlog alerts). Each is a
    fixed number of statements per call, however many alerts it is given, and is timed as its own stage.
    `correlation_keys` / `candidates`: what the caller already holds of the new alerts (else the hooks read it).
    """
    batch = NewAlerts(
        subscription_pk=subscription_pk,
        alert_ids=alert_ids,
        backlog=backlog,
        correlation_keys=correlation_keys,
        candidates=candidates,
    )
    if not alert_ids:
        return batch
    for _order, name, hook in hooks.REGISTRY.new_alerts:
        with stage(name):
            hook(batch)
    log.debug(
        "%d new alerts in subscription %s (backlog=%s), %d suppressed",
        len(alert_ids),
        subscription_pk,
        backlog,
        len(batch.suppressed),
    )
    return batch


def alerts_on_changed(*, subscription_pk: int, correlation_keys: Collection[str]) -> None:
    """Alerts Azure changed in a way their groups depend on (severity, times, correlation key): the `changed_alerts`
    hooks regroup them."""
    if not correlation_keys:
        return
    changed = ChangedAlerts(subscription_pk=subscription_pk, correlation_keys=correlation_keys)
    for _order, name, hook in hooks.REGISTRY.changed_alerts:
        with stage(name):
            hook(changed)


def bulk_status_job_create(
    *,
    user: Any,
    query: str,
    status: str,
    total: int,
    classification: str = "",
    comment: str = "",
    request: HttpRequest | None = None,
) -> Any:
    """Queue "set all N alerts matching this filter to `status`" (processed in batches by a task)."""
    from alerts.models import BulkStatusJob

    if status not in Status.values:
        raise ValidationError({"status": "Unknown status."})
    if status in CLOSED_STATUSES and classification not in CLASSIFICATION_VALUES:
        raise ValidationError({"classification": "Say why these alerts are closed (asked once for all)."})
    check_comment(comment)
    job = BulkStatusJob.objects.create(
        user=user,
        query=query,
        status=status,
        total=total,
        classification=classification,
        comment=comment,
        created_at=timezone.now(),
    )
    audit_record(
        actor=user,
        action="alert.bulk_status",
        obj=job,
        after={"status": status, "total": total, "filter": query},
        request=request,
    )
    from alerts.tasks import run_bulk_status_job

    transaction.on_commit(lambda: run_bulk_status_job.delay(job.pk))
    return job


BULK_BATCH = 200


def bulk_status_job_step(*, job_pk: int) -> bool:
    """Process one batch of a bulk job (in id order, resumable). Returns True while there is more to do."""
    from django.http import QueryDict

    from alerts import selectors
    from alerts.filters import FilterState
    from alerts.models import BulkStatusJob

    job = BulkStatusJob.objects.select_related("user").get(pk=job_pk)
    if job.state in (BulkStatusJob.State.DONE, BulkStatusJob.State.FAILED):
        return False
    if job.started_at is None:
        BulkStatusJob.objects.filter(pk=job.pk).update(
            started_at=timezone.now(), state=BulkStatusJob.State.RUNNING
        )
    form = selectors.filter_form(job.user, QueryDict(job.query))
    if not form.is_valid():
        BulkStatusJob.objects.filter(pk=job.pk).update(
            state=BulkStatusJob.State.FAILED, error=str(form.errors), finished_at=timezone.now()
        )
        return False
    state = FilterState(form.cleaned_data)
    batch = list(
        state.apply(selectors.alerts_visible_to(job.user), with_cursor=False)
        .filter(pk__gt=job.last_id)
        .order_by("pk")[:BULK_BATCH]
    )
    to_change = [alert for alert in batch if alert.status != job.status]
    done, refused = alerts_set_status_many(
        user=job.user,
        alerts=to_change,
        status=job.status,
        source="bulk-filter",
        classification=job.classification,
        comment=job.comment,
    )
    skipped = refused + len(batch) - len(to_change)
    from django.db.models import F

    last_id = batch[-1].pk if batch else job.last_id
    finished = len(batch) < BULK_BATCH
    BulkStatusJob.objects.filter(pk=job.pk).update(
        done=F("done") + done,
        skipped=F("skipped") + skipped,
        last_id=last_id,
        **({"state": BulkStatusJob.State.DONE, "finished_at": timezone.now()} if finished else {}),
    )
    return not finished
