"""Storing alerts from Azure: one page at a time, a bounded number of queries per page, no write when unchanged.

- Upsert keyed on the lower-cased ARM id; a content hash of the element makes an unchanged alert cost nothing.
- A pending status (an analyst's change still being written back) is never reverted by a sync: it is confirmed
  when Azure reports it, and kept otherwise.
- An element that cannot be parsed is stored as a MalformedAlert with its raw JSON and the error; the rest of the
  page is still saved.
- New alerts are handed, after commit, to alerts.services.alerts_on_new; changed ones to alerts_on_changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q

from alerts import rollup, status
from alerts.models import Alert, MalformedAlert
from alerts.parsing import MalformedAlertError, ParsedAlert, parse_alert
from portal.db import copy_line, update_rows
from portal.fields import dumps
from portal.hashing import content_hash, hash_item
from portal.stages import count_statements, stage

# Fields a sync may rewrite on an existing alert (Azure's fields; never the portal's own).
AZURE_FIELDS = [
    "azure_id",
    "identity",
    "caller_ip",
    "name",
    "system_alert_id",
    "alert_type",
    "title",
    "description",
    "severity",
    "severity_rank",
    "azure_status",
    "intent",
    "plan",
    "product_component_name",
    "product_name",
    "vendor_name",
    "start_time",
    "end_time",
    "time_generated",
    "processing_end_time",
    "compromised_entity",
    "correlation_key",
    "is_incident",
    "alert_uri",
    "techniques",
    "sub_techniques",
    "entities",
    "extended_properties",
    "supporting_evidence",
    "resource_identifiers",
    "remediation_steps",
    "extended_links",
    "extra",
    "search_text",
    "content_hash",
]
EXISTING_COLUMNS = ("arm_id", "id", "content_hash", "in_azure")
# What an incident is computed from (besides the correlation key): a change to one of these regroups the alert's key.
GROUP_FIELDS = ("severity_rank", "start_time", "time_generated", "is_incident")


@dataclass
class PageResult:
    new_ids: list[int] = field(default_factory=list)
    changed: int = 0
    unchanged: int = 0
    malformed: int = 0
    seen_ids: list[int] = field(default_factory=list)
    # for incident grouping: the correlation keys of new alerts and of changed ones whose group may differ now (and
    # the old key of an alert whose key changed)
    correlation_keys: set[str] = field(default_factory=set)
    # for suppression rules: {new alert id: (alert type, entities)}, so that matching needs no re-read
    new_candidates: dict[int, tuple[str, list[Any]]] = field(default_factory=dict)


def vault_for(parsed: ParsedAlert, vault_index: dict[str, int]) -> int | None:
    for rid in parsed.resource_ids:
        vault_id = vault_index.get(rid)
        if vault_id:
            return vault_id
    return None


@contextmanager
def relaxed_commits() -> Iterator[None]:
    """During a sync on PostgreSQL: commits do not wait for the WAL flush (synchronous_commit off).

    Safe for a sync: everything comes from Azure again, and a transaction lost in a crash is redone by the next
    run (the upserts are idempotent and the resume point is saved after its page). It never leaves half a page.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _hash_page(items: Iterable[Any]) -> tuple[dict[str, tuple[Any, str, bool]], list[Any]]:
    """{lower-cased id: (element, content hash, holds a NUL)} without parsing; elements without an id string apart."""
    keyed: dict[str, tuple[Any, str, bool]] = {}
    unkeyed: list[Any] = []
    for item in items:
        arm_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(arm_id, str):
            unkeyed.append(item)
            continue
        keyed[arm_id.lower()] = (item, *hash_item(item))  # a duplicate within a page: the last one wins
    return keyed, unkeyed


def _parse(
    item: Any,
    item_hash: str,
    prefix: str,
    malformed: list[tuple[Any, str, str]],
    has_nul: bool | None = None,
) -> ParsedAlert | None:
    try:
        p = parse_alert(item, item_hash=item_hash, has_nul=has_nul)
    except MalformedAlertError as exc:
        malformed.append((item, item_hash, str(exc)))
        return None
    except Exception as exc:  # an element must never break its page
        malformed.append((item, item_hash, f"unexpected {type(exc).__name__}: {exc}"))
        return None
    if not p.arm_id.startswith(prefix):
        malformed.append((item, item_hash, "the alert belongs to another subscription"))
        return None
    return p


def _store_malformed(subscription_pk: int, malformed: list[tuple[Any, str, str]], now: datetime) -> None:
    for item, item_hash, error in malformed:
        raw = dumps(item).decode() if not isinstance(item, str) else item
        arm_id = item.get("id", "") if isinstance(item, dict) and isinstance(item.get("id"), str) else ""
        MalformedAlert.objects.update_or_create(
            content_hash=item_hash or content_hash(raw),
            defaults={
                "subscription_id": subscription_pk,
                "arm_id": arm_id[:600],
                "raw": raw,
                "error": error[:2000],
                "last_seen_at": now,
            },
            create_defaults={
                "subscription_id": subscription_pk,
                "arm_id": arm_id[:600],
                "raw": raw,
                "error": error[:2000],
                "first_seen_at": now,
                "last_seen_at": now,
            },
        )


@dataclass
class PageWork:
    """A page (or a batch of pages) sorted, before anything is written: what is new, changed, malformed, unchanged."""

    new: list[ParsedAlert] = field(default_factory=list)
    changed: list[ParsedAlert] = field(default_factory=list)
    malformed: list[tuple[Any, str, str]] = field(default_factory=list)
    unchanged_ids: list[int] = field(default_factory=list)
    new_rows: NewRows | None = None  # the new alerts' rows, ready to insert
    vault_index: dict[str, int] = field(default_factory=dict)  # vault ARM id -> pk, for changed alerts


@dataclass
class NewRows:
    """New alert rows built before the write: their values, rollup deltas and, on PostgreSQL, their ids (taken from
    the table's sequence) and the COPY payload, so the writer only sends bytes."""

    rows: list[dict[str, Any]]
    deltas: Counter[rollup.Bucket]
    ids: list[int] | None = None
    copy_data: bytes | None = None


def prepare_page(
    *,
    subscription_pk: int,
    subscription_id: str,
    items: list[Any],
    vault_index: dict[str, int],
    now: datetime,
    in_flight: Collection[str] = (),
) -> PageWork:
    """Hash every element, read the stored hashes of the page's ids (one query), parse only what is new or changed,
    and build the new rows (on PostgreSQL with their ids and COPY payload). `in_flight`: ids being inserted by a
    batch not yet committed (the sync's writer thread); an element with such an id is handed on as changed, and
    `store_page` finds its row by then."""
    work = PageWork(vault_index=vault_index)
    with stage("parse"):
        keyed, unkeyed = _hash_page(items)
        prefix = f"/subscriptions/{subscription_id.lower()}/"
        for item in unkeyed:
            _parse(item, content_hash(item), prefix, work.malformed)
    with stage("lookup"):
        existing = {
            row[0]: row for row in Alert.objects.filter(arm_id__in=list(keyed)).values_list(*EXISTING_COLUMNS)
        }
    with stage("parse"):
        for arm_id, (item, item_hash, has_nul) in keyed.items():
            row = existing.get(arm_id)
            if row is not None and row[2] == item_hash and row[3]:
                work.unchanged_ids.append(row[1])  # unchanged: not even parsed
                continue
            p = _parse(item, item_hash, prefix, work.malformed, has_nul)
            if p is None:
                continue
            if row is None and arm_id not in in_flight:
                work.new.append(p)
            else:
                work.changed.append(p)
    if work.new:
        with stage("parse"):
            work.new_rows = new_rows(subscription_pk, work.new, vault_index, now)
    return work


def new_rows(
    subscription_pk: int, parsed: list[ParsedAlert], vault_index: dict[str, int], now: datetime
) -> NewRows:
    rows = []
    deltas: Counter[rollup.Bucket] = Counter()
    for p in parsed:
        values = {
            **p.fields,
            "content_hash": p.content_hash,
            "status": p.fields["azure_status"],
            "subscription_id": subscription_pk,
            "vault_id": vault_for(p, vault_index),
            "first_seen_at": now,
            "updated_at": now,
            "arm_id": p.arm_id,
        }
        rows.append(values)
        deltas[rollup.bucket_of(values)] += 1
    prepared = NewRows(rows=rows, deltas=deltas)
    if connection.vendor == "postgresql":
        prepared.ids = _reserve_ids(len(rows))
        prepared.copy_data = _copy_payload(prepared.ids, rows)
    return prepared


def store_page(*, subscription_pk: int, work: PageWork, now: datetime) -> PageResult:
    """Write what `prepare_page` sorted: a bounded number of statements, none for an unchanged page."""
    result = PageResult(unchanged=len(work.unchanged_ids), seen_ids=list(work.unchanged_ids))
    result.malformed = len(work.malformed)
    if not (work.new or work.changed or work.malformed):
        return result
    with stage("upsert"):
        _write_page(result, subscription_pk, work, now)
    return result


def upsert_page(
    *,
    subscription_pk: int,
    subscription_id: str,
    items: list[Any],
    vault_index: dict[str, int],
    now: datetime,
) -> PageResult:
    """Store one list page. Queries: 1 read for the page, and only for new/changed rows a few writes."""
    work = prepare_page(
        subscription_pk=subscription_pk,
        subscription_id=subscription_id,
        items=items,
        vault_index=vault_index,
        now=now,
    )
    return store_page(subscription_pk=subscription_pk, work=work, now=now)


def _write_page(result: PageResult, subscription_pk: int, work: PageWork, now: datetime) -> None:
    changed, malformed = work.changed, work.malformed
    deltas: Counter[rollup.Bucket] = Counter()
    effects = status.Effects(now=now, source=status.Source.AZURE)  # Azure's status: the one write path
    with transaction.atomic(savepoint=False):  # inside the sync's batch transaction: no savepoint
        prepared = work.new_rows
        if prepared is not None:
            rows = prepared.rows
            ids = insert_prepared(prepared)
            result.new_ids = ids
            result.seen_ids.extend(ids)
            result.new_candidates = {
                pk: (row["alert_type"], row["entities"]) for pk, row in zip(ids, rows, strict=True)
            }
            result.correlation_keys.update(row["correlation_key"] for row in rows)
            deltas.update(prepared.deltas)
        if changed:
            # Re-read the changed rows under a lock, so that a concurrent status change is never overwritten.
            locked = {
                a.arm_id: a
                for a in Alert.objects.select_for_update().filter(arm_id__in=[p.arm_id for p in changed])
            }
            updates = []
            for p in changed:
                row = locked[p.arm_id]
                if row.content_hash == p.content_hash and row.in_azure:
                    result.unchanged += 1  # stored by the batch before this one (an id listed twice)
                    result.seen_ids.append(row.pk)
                    continue
                old_bucket = rollup.bucket_of(row)
                if row.correlation_key != p.fields["correlation_key"]:
                    result.correlation_keys.add(row.correlation_key)
                    result.correlation_keys.add(p.fields["correlation_key"])
                elif any(getattr(row, f) != p.fields[f] for f in GROUP_FIELDS):
                    result.correlation_keys.add(p.fields["correlation_key"])
                for name in AZURE_FIELDS:
                    setattr(row, name, p.fields[name] if name != "content_hash" else p.content_hash)
                row.vault_id = vault_for(p, work.vault_index) or row.vault_id
                status.from_azure(row, p.fields["azure_status"], effects)
                row.in_azure, row.gone_at, row.updated_at = True, None, now
                rollup.move(deltas, old_bucket, rollup.bucket_of(row))
                updates.append(row)
                result.seen_ids.append(row.pk)
            # one UPDATE of each changed row: Azure's fields, and the status fields as status.from_azure set them
            update_rows(
                Alert,
                updates,
                list(
                    dict.fromkeys(
                        [*AZURE_FIELDS, "vault", *status.STATUS_FIELDS, "in_azure", "gone_at", "updated_at"]
                    )
                ),
            )
            result.changed = len(updates)
        effects.flush()
        with stage("rollups"):
            rollup.apply(deltas)
        if malformed:
            _store_malformed(subscription_pk, malformed, now)
    result.correlation_keys.discard("")


def _column_defaults() -> tuple[list[Any], dict[str, Any]]:
    fields = [f for f in Alert._meta.concrete_fields if not f.primary_key]
    return fields, {f.attname: f.get_default() for f in fields}


def _reserve_ids(count: int) -> list[int]:
    """Ids for new alert rows, taken from the table's sequence (not transactional: a failed batch leaves a gap)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Alert._meta.db_table, count],
        )
        return [r[0] for r in cursor.fetchall()]


def _copy_payload(ids: list[int], rows: list[dict[str, Any]]) -> bytes:
    """The COPY text rows for `rows` with these ids (JSON columns serialised with orjson)."""
    fields, defaults = _column_defaults()
    json_columns = {f.attname for f in fields if isinstance(f, models.JSONField)}
    lines = []
    for pk, row in zip(ids, rows, strict=True):
        merged = {**defaults, **row}
        values: list[Any] = [pk]
        for f in fields:
            value = merged[f.attname]
            if f.attname in json_columns and value is not None:
                value = dumps(value).decode()
            values.append(value)
        lines.append(copy_line(values))
    return b"".join(lines)


def insert_prepared(prepared: NewRows) -> list[int]:
    """Insert prepared new rows; returns their ids in order. PostgreSQL: one COPY of the prepared payload."""
    if prepared.ids is None or prepared.copy_data is None:
        ids = insert_alerts(prepared.rows)
        return [ids[row["arm_id"]] for row in prepared.rows]
    fields, _ = _column_defaults()
    columns = ", ".join(["id", *(f.column for f in fields)])
    count_statements()  # the COPY bypasses Django's cursor wrapper
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {Alert._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        copy.write(prepared.copy_data)
    return prepared.ids


def insert_alerts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new alert rows; returns {arm_id: pk}. PostgreSQL: COPY (the fastest path); others: bulk_create."""
    if connection.vendor == "postgresql":
        ids = _reserve_ids(len(rows))
        insert_prepared(NewRows(rows=rows, deltas=Counter(), ids=ids, copy_data=_copy_payload(ids, rows)))
        return {row["arm_id"]: pk for pk, row in zip(ids, rows, strict=True)}
    _fields, defaults = _column_defaults()
    objs = Alert.objects.bulk_create([Alert(**{**defaults, **row}) for row in rows], batch_size=500)
    if objs and objs[0].pk is not None:
        return {o.arm_id: o.pk for o in objs}
    return dict(Alert.objects.filter(arm_id__in=[r["arm_id"] for r in rows]).values_list("arm_id", "id"))


def mark_gone(*, subscription_pk: int, seen_ids: set[int], now: datetime) -> int:
    """After a complete, uninterrupted listing: alerts Azure no longer lists stay here, marked not in Azure."""
    gone: list[int] = []
    for pk in _iter_in_azure(subscription_pk):
        if pk not in seen_ids:
            gone.append(pk)
    for start in range(0, len(gone), 1000):
        Alert.objects.filter(pk__in=gone[start : start + 1000], in_azure=True).update(
            in_azure=False, gone_at=now
        )
    return len(gone)


def _iter_in_azure(subscription_pk: int) -> Iterator[int]:
    qs = Alert.objects.filter(Q(subscription_id=subscription_pk) & Q(in_azure=True)).values_list(
        "pk", flat=True
    )
    yield from qs.iterator(chunk_size=5000)


def estimated_rows() -> int:
    """The alert table's size as the planner knows it (PostgreSQL's statistics; 0 elsewhere or never analysed)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", ["alerts_alert"]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0
