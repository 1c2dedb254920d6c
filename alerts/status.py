"""An alert's status has one write path: this module. Every change of `status`, `pending_*`, `azure_status` and the
closing fields goes through it, whoever asks, in bulk.

Sources and what each records (the rule of this module; tests/test_write_paths.py finds writes elsewhere):

| source | what happens | activity event | audit entry | `alert.status_changed` webhook |
|---|---|---|---|---|
| analyst: portal, api, admin, bulk, bulk-filter, incident | the status is set at once and queued for Azure | status requested | `alert.set_status`, the person | when the status changed |
| rule | a suppression rule dismisses the alert (queued for Azure unless Azure already has it) | suppressed (the rule) | `alert.set_status`, the rule's author or "suppression rule" | when the status changed |
| azure (the sync) | Azure's status confirms a pending change, or is followed when nothing is pending | confirmed / changed in Azure | none: Azure's change, the event records it | when the status changed |
| (any, on a local detection) | as above, but nothing is queued: a local detection's status lives only here | as above | as above | as above |
| write-back (the push task) | Azure accepted the push, or it failed (retried; given up: Azure's status comes back) | confirmed / write-back failed | `alert.status_push_failed` when given up | when given up and the status went back |

Whenever a push is queued, its bookkeeping starts afresh (`pending_attempts`, `pending_error`, `pending_failed`), so a
push after an earlier one that failed for good gets its full retries and is requeued by the stale-work sweep.

A change of N alerts costs a fixed number of statements: one locked read, one `UPDATE … FROM VALUES` per 500 rows,
one insert of the events, one of the audit entries, one of the webhook deliveries, the rollups, and one message per
push (queued after commit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alerts import hooks, rollup
from alerts.models import CLASSIFICATIONS, CLOSED_STATUSES, Alert, AlertEvent, Origin, Status
from portal import recovery, text
from portal.accounts.selectors import can_write
from portal.audit.models import AuditRecord
from portal.audit.services import audit_build, audit_records
from portal.db import update_rows

CLASSIFICATION_VALUES = {value for value, _ in CLASSIFICATIONS}
COMMENT_LIMIT = 10_000


class Source(StrEnum):
    PORTAL = "portal"
    API = "api"
    ADMIN = "admin"
    BULK = "bulk"
    BULK_FILTER = "bulk-filter"
    INCIDENT = "incident"
    RULE = "rule"
    AZURE = "azure"
    WRITE_BACK = "write-back"


# A person closes an alert with a classification (true / benign / false positive, undetermined).
ANALYST_SOURCES = {Source.PORTAL, Source.API, Source.ADMIN, Source.BULK, Source.BULK_FILTER, Source.INCIDENT}

# Every field this module writes: a write of one of them elsewhere is a second write path.
STATUS_FIELDS = [
    "status",
    "azure_status",
    "pending_status",
    "pending_since",
    "pending_attempts",
    "pending_error",
    "pending_failed",
    "classification",
    "classification_comment",
    "closed_at",
    "closed_by",
    "first_action_at",
    "first_action_by",
]


@dataclass
class Effects:
    """What a batch of changes records, written at once by `flush` (events, audit entries, webhooks, pushes)."""

    now: datetime
    source: str
    actor: User | str | None = None  # a person, a rule's label ("suppression rule"), or None: the system
    request: HttpRequest | None = None
    events: list[AlertEvent] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)
    changed: list[Alert] = field(default_factory=list)  # the visible status changed
    before: dict[int, str] = field(default_factory=dict)
    pushes: list[int] = field(default_factory=list)

    def status_moved(self, row: Alert, before: str) -> None:
        if row.status != before:
            self.changed.append(row)
            self.before[row.pk] = before

    def flush(self) -> None:
        if self.events:
            AlertEvent.objects.bulk_create(self.events, batch_size=1000)
        if self.audits:
            audit_records(self.audits)
        if self.changed:
            hooks.status_changed(
                hooks.StatusChange(
                    alerts=self.changed, before=self.before, source=self.source, actor=self.actor
                )
            )
        if self.pushes:
            from alerts.tasks import push_alert_status  # the tasks import this module

            for pk in self.pushes:  # one message per alert, once the change is committed
                transaction.on_commit(partial(push_alert_status.delay, pk))
        self.events, self.audits, self.changed, self.before, self.pushes = [], [], [], {}, []


def _person(actor: User | str | None) -> User | None:
    """The signed-in person behind a change; None for a rule's label or the system."""
    return actor if isinstance(actor, User) and actor.is_authenticated else None


# --- validation -------------------------------------------------------------------------------------------------


def check_comment(comment: str | None) -> None:
    """A status change's comment: multi-line text (portal.text) that fits COMMENT_LIMIT."""
    if len(comment or "") > COMMENT_LIMIT:
        raise ValidationError({"comment": f"Keep the comment to {COMMENT_LIMIT:,} characters."})
    text.check_multi_line(comment or "", field="comment")


def check_request(*, status: str, source: str, classification: str = "", comment: str = "") -> None:
    """The one check of a requested change (pages and the API show its ValidationError)."""
    if status not in Status.values:
        raise ValidationError(
            {"status": f"Unknown status {status!r}. Use Active, InProgress, Resolved or Dismissed."}
        )
    if (
        status in CLOSED_STATUSES
        and source in ANALYST_SOURCES
        and classification not in CLASSIFICATION_VALUES
    ):
        raise ValidationError(
            {
                "classification": "Say why the alert is closed: choose a classification (true positive, benign "
                "positive, false positive or undetermined)."
            }
        )
    check_comment(comment)


# --- the transitions (one row, in memory; the caller's effects record them) -----------------------------------


def _requested(
    row: Alert,
    status: str,
    effects: Effects,
    *,
    classification: str = "",
    comment: str = "",
    note: dict[str, Any] | None = None,
) -> bool:
    """Someone (a person, a rule) asks for `status`. Returns whether the row changed."""
    source, user, now = effects.source, effects.actor, effects.now
    person = _person(user)
    closing = status in CLOSED_STATUSES
    unchanged = row.status == status and (
        row.pending_status == status or (not row.pending_status and row.azure_status == status)
    )
    if source == Source.RULE:
        # the rule's dismissal is recorded for every alert it matched, dismissed already or not
        effects.events.append(
            AlertEvent(
                alert_id=row.pk, kind=AlertEvent.Kind.SUPPRESSED, created_at=now, data=dict(note or {})
            )
        )
        if unchanged:
            return False
    elif unchanged and (not closing or not classification or row.classification == classification):
        return False  # already so (a double submit): nothing to do
    before = {
        "status": row.status,
        "pending_status": row.pending_status,
        "classification": row.classification,
    }
    if not unchanged:
        row.status = status
        if row.origin == Origin.LOCAL:
            row.azure_status = status  # a local detection: its status lives only here, nothing to write back
        elif row.azure_status == status and not row.pending_status:
            pass  # Azure has it already: nothing to write back
        else:
            row.pending_status, row.pending_since = status, now
            row.pending_attempts, row.pending_error, row.pending_failed = 0, "", False
            effects.pushes.append(row.pk)
    if source in ANALYST_SOURCES:
        if closing:
            row.classification = classification or row.classification
            row.classification_comment = (comment or "").strip()
            if row.closed_at is None:
                row.closed_at, row.closed_by = now, person
        else:
            row.classification, row.classification_comment, row.closed_at, row.closed_by = "", "", None, None
    elif closing and row.closed_at is None:
        row.closed_at = now
    if person is not None and row.first_action_at is None:
        row.first_action_at, row.first_action_by = now, person
    if source != Source.RULE:
        effects.events.append(
            AlertEvent(
                alert_id=row.pk,
                kind=AlertEvent.Kind.STATUS_REQUESTED,
                actor=person,
                created_at=now,
                data={
                    "from": before["status"],
                    "to": status,
                    "source": str(source),
                    **({"classification": classification, "comment": comment[:500]} if closing else {}),
                    **(note or {}),
                },
            )
        )
    effects.audits.append(
        audit_build(
            actor=user,
            action="alert.set_status",
            obj=row,
            before=before,
            after={
                "status": status,
                "classification": row.classification,
                "source": str(source),
                **(note or {}),
            },
            request=effects.request,
            subscription=row.subscription_id,
            now=now,
        )
    )
    effects.status_moved(row, before["status"])
    return True


def new_local(row: dict[str, Any]) -> None:
    """A new local detection's status (alerts.services.alerts_add_local): Active, here only (nothing to push)."""
    row.update(status=Status.ACTIVE, azure_status=Status.ACTIVE)


def from_azure(row: Alert, azure_status: str, effects: Effects) -> None:
    """The sync read `azure_status` for `row`: it confirms a pending change, or, with nothing pending, the portal
    follows Azure (a reopened alert loses its closing classification; the activity keeps it). A pending change Azure
    does not show yet stays."""
    row.azure_status = azure_status
    if row.pending_status:
        if azure_status == row.pending_status:
            effects.events.append(
                AlertEvent(
                    alert_id=row.pk,
                    kind=AlertEvent.Kind.STATUS_CONFIRMED,
                    created_at=effects.now,
                    data={"status": azure_status, "via": "sync"},
                )
            )
            row.pending_status, row.pending_error, row.pending_failed = "", "", False
            row.pending_since, row.pending_attempts = None, 0
            row.status = azure_status
        return
    if row.status != azure_status:
        before = row.status
        data = {"from": row.status, "to": azure_status}
        if azure_status not in CLOSED_STATUSES and row.classification:
            data["classification_cleared"] = row.classification
            row.classification, row.classification_comment, row.closed_at, row.closed_by_id = (
                "",
                "",
                None,
                None,
            )
        effects.events.append(
            AlertEvent(
                alert_id=row.pk, kind=AlertEvent.Kind.STATUS_UPSTREAM, created_at=effects.now, data=data
            )
        )
        row.status = azure_status
        effects.status_moved(row, before)


# --- the write paths ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    changed: list[int] = field(default_factory=list)
    unchanged: int = 0
    refused: int = 0  # a read-only role on the alert's subscription


def alerts_set_status(
    *,
    actor: User | str | None,
    alert_ids: Iterable[int],
    status: str,
    source: str,
    request: HttpRequest | None = None,
    classification: str = "",
    comment: str = "",
    note: dict[str, Any] | None = None,
    notes: dict[int, dict[str, Any]] | None = None,
) -> Result:
    """Set the status of many alerts at once (a person: only on subscriptions where they may write; a rule or the
    system: `actor` None or a rule's author). Checked once, then a fixed number of statements (the module's
    docstring). `note`, or `notes` per alert id: what the activity event and the audit entry add (a rule's name)."""
    check_request(status=status, source=source, classification=classification, comment=comment)
    ids = list(dict.fromkeys(alert_ids))
    result = Result()
    if not ids:
        return result
    effects = Effects(now=timezone.now(), source=source, actor=actor, request=request)
    person = _person(actor)
    with transaction.atomic(savepoint=False):
        rows = list(Alert.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        writable = {
            sub for sub in {r.subscription_id for r in rows} if person is None or can_write(person, sub)
        }
        deltas: Counter[rollup.Bucket] = Counter()
        updates = []
        for row in rows:
            if row.subscription_id not in writable:
                result.refused += 1
                continue
            old = rollup.bucket_of(row)
            row_note = notes.get(row.pk, note) if notes else note
            if _requested(
                row, status, effects, classification=classification, comment=comment, note=row_note
            ):
                rollup.move(deltas, old, rollup.bucket_of(row))
                updates.append(row)
                result.changed.append(row.pk)
            else:
                result.unchanged += 1
        update_rows(Alert, updates, STATUS_FIELDS)
        rollup.apply(deltas)
        effects.flush()
    return result


def alert_set_status(
    *,
    user: User | None,
    alert: Alert,
    status: str,
    request: HttpRequest | None = None,
    source: str = Source.PORTAL,
    classification: str = "",
    comment: str = "",
) -> Alert:
    """One alert (a page, the API): refused outright for a read-only role (the bulk path's own check, which changed
    nothing); returns the row as it is now."""
    result = alerts_set_status(
        actor=user,
        alert_ids=[alert.pk],
        status=status,
        source=source,
        request=request,
        classification=classification,
        comment=comment,
    )
    if result.refused:
        raise PermissionDenied(
            "Your role on this subscription is read-only (Security Admin or Owner required)."
        )
    return Alert.objects.get(pk=alert.pk)


def alert_status_confirmed(*, alert_pk: int, status: str) -> bool:
    """The write-back's result: Azure accepted the change (204). A newer request for another status stays pending."""
    effects = Effects(now=timezone.now(), source=Source.WRITE_BACK)
    with transaction.atomic():
        row = Alert.objects.select_for_update().filter(pk=alert_pk, pending_status=status).first()
        if row is None:
            return False
        row.pending_status, row.azure_status, row.pending_error, row.pending_failed = "", status, "", False
        row.pending_since, row.pending_attempts = None, 0
        update_rows(Alert, [row], STATUS_FIELDS)
        effects.events.append(
            AlertEvent(
                alert_id=alert_pk,
                kind=AlertEvent.Kind.STATUS_CONFIRMED,
                created_at=effects.now,
                data={"status": status, "via": "write-back"},
            )
        )
        effects.flush()
    return True


def alert_status_attempt_failed(*, alert_pk: int, status: str, error: str, final: bool) -> None:
    """The write-back's result: a push failed. Transient: counted, retried by the task. Final: the alert goes back to
    Azure's status, with the error shown, an activity event, an audit entry and the webhook."""
    effects = Effects(now=timezone.now(), source=Source.WRITE_BACK)
    with transaction.atomic():
        row = Alert.objects.select_for_update().filter(pk=alert_pk, pending_status=status).first()
        if row is None:
            return
        row.pending_attempts += 1
        row.pending_error = error[:2000]
        if final:
            old_bucket, before = rollup.bucket_of(row), row.status
            row.pending_failed, row.pending_status, row.pending_since = True, "", None
            row.status = row.azure_status or row.status
            effects.events.append(
                AlertEvent(
                    alert_id=row.pk,
                    kind=AlertEvent.Kind.STATUS_FAILED,
                    created_at=effects.now,
                    data={"status": status, "error": error[:500]},
                )
            )
            effects.audits.append(
                audit_build(
                    actor=None,
                    action="alert.status_push_failed",
                    obj=row,
                    before={"status": before, "pending_status": status},
                    after={"status": row.status, "error": error[:500]},
                    subscription=row.subscription_id,
                    now=effects.now,
                )
            )
            effects.status_moved(row, before)
            update_rows(Alert, [row], STATUS_FIELDS)
            rollup.move_one(old_bucket, rollup.bucket_of(row))
        else:
            update_rows(Alert, [row], STATUS_FIELDS)
        effects.flush()


def requeue_stale_pushes(now: datetime, cutoff: datetime) -> int:
    """The alerts' step of the stale-work sweep (portal.recovery): a push pending since before `cutoff` whose message
    was lost is queued again (one that failed for good is not; a new change resets that)."""
    from alerts.tasks import push_alert_status  # the tasks import this module

    return recovery.requeue(
        Alert.objects.filter(pending_since__lt=cutoff, pending_failed=False).exclude(pending_status=""),
        push_alert_status.delay,
        pending_since=now,
    )
