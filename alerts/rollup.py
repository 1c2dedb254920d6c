"""The alert rollup: counts per day × subscription × vault × severity × type × plan × status.

Counters and charts read it instead of scanning the alert table. The sync and status changes keep it current by
adding deltas in one statement per batch (INSERT ... ON CONFLICT DO UPDATE, on PostgreSQL and SQLite alike).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import connection

if TYPE_CHECKING:
    from alerts.models import Alert


class Bucket(NamedTuple):
    day: date
    subscription_id: int
    vault_id: int  # 0: no vault
    severity: str
    alert_type: str
    plan: str
    status: str


def bucket_of(values: dict[str, Any] | Alert) -> Bucket:
    """The bucket of an alert, from a dict of field values or an Alert instance."""
    get: Callable[[str], Any] = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    return Bucket(
        get("time_generated").date(),
        get("subscription_id"),
        get("vault_id") or 0,
        get("severity"),
        get("alert_type")[:200],
        get("plan") or "",
        get("status"),
    )


def apply(deltas: Counter[Bucket]) -> None:
    """Add the deltas to their buckets (call inside the transaction that changed the alerts)."""
    rows = [(b, n) for b, n in deltas.items() if n]
    if not rows:
        return
    table = "alerts_alertrollup"
    cols = "day, subscription_id, vault_id, severity, alert_type, plan, status, count"
    conflict = (
        "ON CONFLICT (day, subscription_id, vault_id, severity, alert_type, plan, status) "
        f"DO UPDATE SET count = {table}.count + excluded.count"
    )
    if connection.vendor == "postgresql":
        # One array per column: a fixed, short statement however many buckets a page touches.
        columns = list(zip(*[(*bucket, n) for bucket, n in rows], strict=True))
        sql = (
            f"INSERT INTO {table} ({cols}) SELECT * FROM unnest(%s::date[], %s::bigint[], %s::bigint[], "  # noqa: S608
            f"%s::text[], %s::text[], %s::text[], %s::text[], %s::integer[]) {conflict}"
        )
        params: list[Any] = [list(c) for c in columns]
    else:
        placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        sql = f"INSERT INTO {table} ({cols}) VALUES {placeholders} {conflict}"  # noqa: S608 - values as params
        params = [value for bucket, n in rows for value in (*bucket, n)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def move(deltas: Counter[Bucket], old: Bucket | None, new: Bucket | None) -> None:
    if old == new:
        return
    if old is not None:
        deltas[old] -= 1
    if new is not None:
        deltas[new] += 1


def move_one(old: Bucket | None, new: Bucket | None) -> None:
    """One alert moved from bucket `old` to `new`: write that to the rollup now."""
    deltas: Counter[Bucket] = Counter()
    move(deltas, old, new)
    apply(deltas)
