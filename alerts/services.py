"""Writes on alerts besides the status (alerts.status): the new-alert and changed-alert hooks, bulk status jobs."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alerts import hooks, rollup
from alerts.hooks import ChangedAlerts, NewAlerts
from alerts.models import CLOSED_STATUSES, SEVERITY_RANK, BulkStatusJob, Origin, Status
from alerts.status import CLASSIFICATION_VALUES, Source, alerts_set_status, check_comment, new_local
from portal.audit.services import audit_record
from portal.stages import stage

log = logging.getLogger(__name__)


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


def alerts_add_local(*, subscription_pk: int, rows: list[dict[str, Any]]) -> list[int]:
    """Local detections (accesslogs) join the alert table as Defender's alerts do, in the caller's transaction (which
    also advances what produced them): one insert, the rollups, then the new-alert hooks (suppression rules,
    incidents, notifications, webhooks). Each row holds Alert fields; `arm_id` must be unique (a local id, never an
    Azure one). They are never written to Azure: `origin` local, `in_azure` False. Returns the new ids in order."""
    if not rows:
        return []
    from alerts.sync import insert_alerts  # the sync's insert (COPY on PostgreSQL)

    now = timezone.now()
    for row in rows:
        row.update(
            subscription_id=subscription_pk,
            origin=Origin.LOCAL,
            in_azure=False,
            severity_rank=SEVERITY_RANK.get(row["severity"], 0),
            first_seen_at=now,
            updated_at=now,
        )
        row.setdefault("azure_id", row["arm_id"])
        new_local(row)
    ids = insert_alerts(rows)
    rollup.apply(Counter(rollup.bucket_of(row) for row in rows))
    new_ids = [ids[row["arm_id"]] for row in rows]
    alerts_on_new(alert_ids=new_ids, subscription_pk=subscription_pk, backlog=False)
    return new_ids


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
    user: User,
    query: str,
    status: str,
    total: int,
    classification: str = "",
    comment: str = "",
    request: HttpRequest | None = None,
) -> BulkStatusJob:
    """Queue "set all N alerts matching this filter to `status`" (processed in batches by a task)."""
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
    to_change = [alert.pk for alert in batch if alert.status != job.status]
    result = alerts_set_status(
        actor=job.user,
        alert_ids=to_change,
        status=job.status,
        source=Source.BULK_FILTER,
        classification=job.classification,
        comment=job.comment,
    )
    done = len(result.changed)
    skipped = len(batch) - done
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
