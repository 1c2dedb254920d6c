"""One poll of a subscription's access logs: every vault collecting into a storage account is read from its cursors,
its records feed the subscription's detector, and what they complete becomes local detections.

A poll is a series of rounds, each one transaction that holds the subscription's detector row locked:

1. lock the subscription's detector row (accesslogs.models.DetectorState; the detector itself is unpickled only
   once there is a record to feed);
2. for each collecting vault, list its day prefixes from the oldest unfinished day to today, and read each blob that
   grew since its cursor (accesslogs.cursor.poll: partial last lines wait, a rewrite is re-read skipping the lines
   already consumed), in hour order, until the round has read `ROUND_BYTES`;
3. store the new cursors, the detector, the detections (alerts.services.alerts_add_local: the alert table, rollups,
   suppression, incidents, notifications) and their evidence, and the collections' counters, then commit.

A worker killed anywhere in a round rolls all of it back: the next poll starts from the same cursors with the same
detector, so nothing is lost or counted twice. Storage and the detector are parameters (`source_for`,
`settings`), so that tests can use a dict or Azurite and the bench the generator's bytes.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from accesslogs import cursor as cursors
from accesslogs.auditevent import Record
from accesslogs.detect import Detection, Detector, Settings
from accesslogs.kinds import kind_of
from accesslogs.models import BlobCursor, DetectorState, LocalEvidence, LogCollection
from alerts.services import alerts_add_local
from portal.arm import errors

log = logging.getLogger(__name__)

ROUND_BYTES = 16 * 1024 * 1024  # read per transaction, at most (then commit and go on)
EVIDENCE_LIMIT = (
    500  # records kept with a detection (the first ones: the burst's start and the threshold's end)
)
MALFORMED_LOGGED = 5

SourceFor = Callable[[LogCollection], cursors.BlobSource]


@dataclass
class Report:
    rounds: int = 0
    blobs_read: int = 0
    bytes_read: int = 0
    records: int = 0
    malformed: int = 0
    rewritten: int = 0
    alert_ids: list[int] = field(default_factory=list)


@dataclass
class _Round:
    bytes_read: int = 0
    detections: list[tuple[LogCollection, Detection]] = field(default_factory=list)
    full: bool = False  # stopped at the byte budget: another round follows


def _load(row: DetectorState, settings: Settings) -> Detector:
    if row.state:
        detector: Detector = pickle.loads(bytes(row.state))  # noqa: S301 - written only by this module
        detector.settings = settings  # the operator's current lists and thresholds
        return detector
    return Detector(settings)


# what a BlobCursor row stores of a Cursor, besides its blob's name (the same names on both)
CURSOR_FIELDS = ("offset", "lines", "head_hash", "size_seen", "grown_at", "finished")


def _as_cursor(row: BlobCursor) -> cursors.Cursor:
    return cursors.Cursor(blob=row.blob, **{name: getattr(row, name) for name in CURSOR_FIELDS})


def _store_cursor(collection: LogCollection, row: BlobCursor | None, moved: cursors.Cursor) -> None:
    values = {name: getattr(moved, name) for name in CURSOR_FIELDS}
    if row is None:
        BlobCursor.objects.create(collection=collection, blob=moved.blob, **values)
    else:
        BlobCursor.objects.filter(pk=row.pk).update(**values)


def _read_collection(
    collection: LogCollection,
    source: cursors.BlobSource,
    detector: Callable[[], Detector],
    now: datetime,
    budget: int,
    report: Report,
) -> tuple[int, list[Detection], bool, str]:
    """Read what one vault's blobs gained; returns (bytes read, detections, stopped at the budget, the error that
    stopped it). A storage error stops this vault's read where it is: what was read before it is kept (its cursors
    and its detections go together), the rest waits for the next poll."""
    vault_id = collection.vault.arm_id
    today = now.date()
    days = cursors.days_to_list(collection.oldest_unfinished_day or collection.first_day, today)
    listed: list[tuple[str, int]] = []
    try:
        for day in days:
            listed += source.sizes(cursors.day_prefix(vault_id, day))
    except errors.ArmError as exc:
        return 0, [], False, str(exc)
    rows = {row.blob: row for row in collection.cursors.all()}
    spent = 0
    found: list[Detection] = []
    records = malformed = 0
    full = False
    error = ""
    unfinished = set()
    for name, size in sorted(listed, key=lambda item: (cursors.blob_hour(item[0]) or now, item[0])):
        row = rows.get(name)
        if row is not None and row.finished:
            continue
        if spent >= budget or error:
            full = full or not error
            unfinished.add(name)
            continue
        current = _as_cursor(row) if row is not None else cursors.Cursor(blob=name)
        try:
            polled = cursors.poll(source, current, size, now)
        except errors.ArmError as exc:
            error = str(exc)
            unfinished.add(name)
            continue
        if polled.bytes_read:
            report.blobs_read += 1
        spent += polled.bytes_read
        report.rewritten += int(polled.rewritten)
        chunk = polled.chunk
        # filled by receive time: a late record comes after newer ones
        chunk.records.sort(key=lambda r: r.time)
        if chunk.records:
            found += detector().feed(chunk.records)
        records += len(chunk.records)
        malformed += len(chunk.malformed)
        for bad in chunk.malformed[:MALFORMED_LOGGED]:
            log.warning("access log %s: a line at byte %d is not a record (%s)", name, bad.offset, bad.reason)
        if polled.cursor != current or row is None:
            _store_cursor(collection, row, polled.cursor)
        if not polled.cursor.finished:
            unfinished.add(name)
    # the oldest day with an unfinished blob is where the next poll starts listing; finished days are forgotten
    hours = [cursors.blob_hour(name) for name in unfinished]
    oldest = min((h.date() for h in hours if h is not None), default=today)
    if oldest != collection.oldest_unfinished_day:
        collection.oldest_unfinished_day = oldest
        stale = [
            name
            for name, row in rows.items()
            if row.finished and (cursors.blob_hour(name) or now).date() < oldest
        ]
        if stale:
            BlobCursor.objects.filter(collection=collection, blob__in=stale).delete()
    collection.records_read += records
    collection.malformed_lines += malformed
    report.records += records
    report.malformed += malformed
    report.bytes_read += spent
    return spent, found, full, error


def _evidence(records: list[Record]) -> list[Any]:
    kept = []
    for record in records[:EVIDENCE_LIMIT]:
        try:
            kept.append(orjson.loads(record.line))
        except orjson.JSONDecodeError:  # parsed once already: cannot happen, but never lose the line
            kept.append({"line": record.line.decode("utf-8", "replace")})
    return kept


def _alert_row(collection: LogCollection, d: Detection, now: datetime) -> dict[str, Any]:
    kind = kind_of(d.alert_type)
    vault = collection.vault
    last = d.evidence[-1]
    digest = hashlib.sha256(
        f"{kind.alert_type}|{vault.arm_id}|{d.identity}|{d.start.isoformat()}|{d.end.isoformat()}".encode()
    ).hexdigest()[:32]
    entities: list[dict[str, Any]] = [
        {"$id": "1", "type": "azure-resource", "resourceId": vault.arm_id},
    ]
    if last.object_id or last.upn:
        account: dict[str, Any] = {"$id": "2", "type": "account"}
        if last.object_id:
            account["aadUserId"] = last.object_id
        if last.upn:
            account["upn"] = last.upn
        entities.append(account)
    if last.app_id:
        entities.append({"$id": "3", "type": "cloud-application", "appId": last.app_id})
    if last.caller_ip:
        entities.append({"$id": "4", "type": "ip", "address": last.caller_ip})
    operations = sorted({r.operation for r in d.evidence})
    identity = last.upn or last.app_id or last.object_id or d.identity
    return {
        "arm_id": f"local:{vault.arm_id}/detections/{digest}",
        "vault_id": vault.pk,
        "name": digest,
        "system_alert_id": digest,
        "alert_type": kind.alert_type,
        "title": kind.title,
        "description": f"{kind.description}\n\n{d.explanation}",
        "severity": kind.severity,
        "intent": kind.intent,
        "plan": "",
        "product_name": "Local detection",
        "product_component_name": "Key Vault access log",
        "vendor_name": "This console",
        "start_time": d.start,
        "end_time": d.end,
        "time_generated": now,
        "compromised_entity": vault.name,
        "identity": identity[:300],
        "caller_ip": last.caller_ip[:64],
        "entities": entities,
        "extended_properties": {
            "Explanation": d.explanation,
            "Records": str(len(d.evidence)),
            "Operations": ", ".join(operations),
            **({"User agent": last.user_agent} if last.user_agent else {}),
        },
        "remediation_steps": list(kind.remediation),
        # one incident per vault and identity: that identity's local detections on the vault, grouped
        "correlation_key": "local-"
        + hashlib.sha256(f"{vault.arm_id}|{d.identity}".encode()).hexdigest()[:24],
        "search_text": " ".join(
            v for v in (last.object_id, last.app_id, last.upn, last.caller_ip, vault.name.lower()) if v
        ),
        "content_hash": digest,
    }


def _store(
    subscription_pk: int, detections: list[tuple[LogCollection, Detection]], now: datetime
) -> list[int]:
    if not detections:
        return []
    rows = [_alert_row(collection, d, now) for collection, d in detections]
    ids = alerts_add_local(subscription_pk=subscription_pk, rows=rows)
    LocalEvidence.objects.bulk_create(
        [
            LocalEvidence(
                alert_id=pk,
                collection=collection,
                detection_type=d.alert_type,
                identity=d.identity[:200],
                explanation=d.explanation,
                start=d.start,
                end=d.end,
                records=_evidence(d.evidence),
            )
            for pk, (collection, d) in zip(ids, detections, strict=True)
        ]
    )
    return ids


def poll_subscription(
    subscription_pk: int,
    *,
    source_for: SourceFor,
    settings: Settings,
    now: datetime | None = None,
    round_bytes: int = ROUND_BYTES,
    max_rounds: int = 100,
) -> Report:
    """Read every collecting vault of the subscription (see the module's docstring)."""
    report = Report()
    DetectorState.objects.get_or_create(subscription_id=subscription_pk)
    for _ in range(max_rounds):
        moment = now or timezone.now()
        done = _round(subscription_pk, source_for, settings, moment, round_bytes, report)
        report.rounds += 1
        if done:
            break
    return report


def _round(
    subscription_pk: int,
    source_for: SourceFor,
    settings: Settings,
    now: datetime,
    budget: int,
    report: Report,
) -> bool:
    with transaction.atomic():
        state = (
            DetectorState.objects.select_for_update(skip_locked=True)
            .filter(subscription_id=subscription_pk)
            .first()
        )
        if state is None:  # another worker is polling this subscription
            return True
        collections = list(
            LogCollection.objects.select_related("vault", "subscription__connection")
            .filter(subscription_id=subscription_pk, state=LogCollection.State.ON)
            .order_by("pk")
        )
        if not collections:
            return True
        # the detector is unpickled only when a record is to be fed, and stored only if it was: a poll that finds
        # nothing new (most of them) costs no pickle of the subscription's state either way
        loaded: list[Detector] = []

        def detector() -> Detector:
            if not loaded:
                loaded.append(_load(state, settings))
            return loaded[0]

        before = report.records
        found: list[tuple[LogCollection, Detection]] = []
        full = False
        spent = 0
        for collection in collections:
            used, detections, stopped, error = _read_collection(
                collection, source_for(collection), detector, now, max(budget - spent, 0), report
            )
            spent += used
            full = full or stopped
            found += [(collection, d) for d in detections]
            collection.detections += len(detections)
            collection.last_polled_at, collection.last_poll_error = now, error[:2000]
            collection.save(
                update_fields=[
                    "oldest_unfinished_day",
                    "records_read",
                    "malformed_lines",
                    "detections",
                    "last_polled_at",
                    "last_poll_error",
                ]
            )
        report.alert_ids += _store(subscription_pk, found, now)
        if loaded:
            state.state = pickle.dumps(loaded[0], protocol=pickle.HIGHEST_PROTOCOL)
            state.records += report.records - before
            state.updated_at = now
            state.save()
    return not full
