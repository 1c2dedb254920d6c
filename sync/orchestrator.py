"""One sync of one subscription: vaults, plans, security contacts, suppression rules, then alerts page by page.

- A lease per subscription (a conditional UPDATE with an expiry) keeps two workers from syncing the same
  subscription at once; a crashed worker's lease expires.
- The run is recorded (SyncRun) and resumes from its last completed page when retried.
- Alerts that disappear upstream are marked by set difference, only after a complete, uninterrupted listing.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import sync as alert_sync
from alerts.models import Alert, AlertRollup
from alerts.services import alerts_on_changed, alerts_on_new
from notifications.contact_services import contacts_sync
from portal.arm import errors, operations
from portal.inventory import services as inventory
from portal.inventory.azure import config_for
from portal.inventory.models import AzureConnection, Subscription
from portal.inventory.secrets import SecretUnavailable
from portal.stages import StageRecorder, attach, recording, stage
from pricing.services import pricings_sync
from suppression.services import rules_sync
from sync.models import SyncLease, SyncRun
from triage.models import Incident

log = logging.getLogger(__name__)
T = TypeVar("T")


PREFETCH_PAGES = (
    12  # pages fetched ahead while a batch is stored (a batch of 1,000 alerts is 10 pages of 100)
)

PROGRESS_FIELDS = [
    "pages",
    "alerts_new",
    "alerts_changed",
    "alerts_unchanged",
    "alerts_malformed",
    "resume_token",
    "vaults",
    "fetch_seconds",
    "store_seconds",
    "stages",
]


def prefetch(iterator: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Fetch the next pages in a background thread while this one stores the current page (bounded memory:
    at most `depth` pages wait). Exceptions reach the consumer at the point they happened."""
    done = object()
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("done", done))
        except BaseException as exc:
            slots.put(("error", exc))
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()


@dataclass
class Batch:
    """Pages gathered, hashed and parsed by the sync's thread, for the writer to store."""

    work: alert_sync.PageWork
    pages: int
    next_link: str  # the resume point after its last page ("" after the last page of the listing)
    new_ids: frozenset[str]  # the lower-cased ids it inserts


class BatchWriter:
    """Stores batches in the order they come. Threaded when the sync is not inside a transaction, on PostgreSQL: the
    writer has its own database connection and stores batch N while the sync's thread fetches, hashes and parses
    batch N + 1 (the sync process otherwise waited for PostgreSQL about half the time). Inside a transaction (the
    tests') or on SQLite it stores each batch as it comes, in the caller's thread.

    At most two batches are not committed at a time (the one being stored and one waiting): `in_flight()` gives
    their new ids, which the next batch must treat as stored (an id listed twice). An error in the writer ends the
    sync: the next `submit` or `close` raises it.
    """

    _STOP = object()

    def __init__(self, store: Callable[[Batch], None], *, threaded: bool, recorder: StageRecorder) -> None:
        self.store = store
        self.recent: list[frozenset[str]] = []
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.slots: queue.Queue[Any] = queue.Queue(maxsize=1)
        if threaded:
            self.thread = threading.Thread(
                target=self._run, args=(recorder,), name="sync-writer", daemon=True
            )
            self.thread.start()

    def _run(self, recorder: StageRecorder) -> None:
        try:
            with attach(recorder), alert_sync.relaxed_commits():
                while (batch := self.slots.get()) is not self._STOP:
                    self.store(batch)
        except BaseException as exc:
            self.error = exc
            while self.slots.get() is not self._STOP:  # let the sync's thread put what it has, then stop
                pass
        finally:
            db_connection.close()

    def in_flight(self) -> frozenset[str]:
        return frozenset().union(*self.recent)

    def submit(self, batch: Batch) -> None:
        self.recent = [*self.recent[-1:], batch.new_ids]
        if self.thread is None:
            self.store(batch)
            return
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.slots.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self, *, failed: bool = False) -> None:
        """Wait until every batch is stored, and raise the writer's error if there was one (`failed`: the sync's
        thread is raising already; only stop the writer)."""
        if self.thread is None:
            return
        self.slots.put(self._STOP)
        self.thread.join()
        if self.error is not None and not failed:
            raise self.error


class LeaseLost(Exception):
    pass


@dataclass
class SyncFailed(Exception):
    run_id: int
    error: errors.ArmError

    def __str__(self) -> str:
        return f"sync run {self.run_id} failed: {self.error}"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_acquire(subscription_pk: int, holder: str, *, seconds: int | None = None) -> bool:
    now = timezone.now()
    seconds = seconds or settings.SYNC_LEASE_SECONDS
    SyncLease.objects.get_or_create(subscription_id=subscription_pk)
    taken = (
        SyncLease.objects.filter(subscription_id=subscription_pk)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder))
        .update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )
    return taken == 1


def lease_renew(subscription_pk: int, holder: str, *, seconds: int | None = None) -> None:
    seconds = seconds or settings.SYNC_LEASE_SECONDS
    renewed = SyncLease.objects.filter(subscription_id=subscription_pk, holder=holder).update(
        expires_at=timezone.now() + timedelta(seconds=seconds)
    )
    if renewed != 1:
        raise LeaseLost(f"lease of subscription {subscription_pk} was taken over")


def lease_release(subscription_pk: int, holder: str) -> None:
    SyncLease.objects.filter(subscription_id=subscription_pk, holder=holder).update(
        holder="", expires_at=None
    )


def mark_connection(connection: AzureConnection, *, healthy: bool, reason: str = "") -> None:
    if connection.is_healthy == healthy and connection.health_reason == reason:
        AzureConnection.objects.filter(pk=connection.pk).update(health_checked_at=timezone.now())
        return
    AzureConnection.objects.filter(pk=connection.pk).update(
        is_healthy=healthy, health_reason=reason[:2000], health_checked_at=timezone.now()
    )


def discover(connection: AzureConnection, *, only: list[str] | None = None) -> list[Subscription]:
    """List the subscriptions the connection's principal can see and record them (1 ARM call per page)."""
    try:
        items = operations.list_subscriptions(config_for(connection))
    except SecretUnavailable as exc:  # a connection without its secret is unhealthy, not a crash of the round
        mark_connection(connection, healthy=False, reason=f"The connection's secret is not available: {exc}")
        raise errors.ArmAuthError(str(exc)) from exc
    except errors.ArmAuthError as exc:
        mark_connection(connection, healthy=False, reason=f"Azure refused the credential: {exc}")
        raise
    mark_connection(connection, healthy=True)
    result = []
    for item in items:
        sid = str(item.get("subscriptionId") or "").lower()
        if not sid or (only and sid not in only):
            continue
        data = {
            "subscription_id": sid,
            "display_name": str(item.get("displayName") or sid)[:300],
            "state": str(item.get("state") or "")[:40],
            "tenant_id": str(item.get("tenantId") or "")[:64],
            "tags": item.get("tags") or {},
        }
        subscription, _ = inventory.subscription_upsert(connection=connection, data=data)
        result.append(subscription)
    return result


def record_plan(listed: dict[int, str], skipped: list[int], *, at: datetime) -> None:
    """Keep each subscription's decision of this round (shown on the Sync status page): one UPDATE per reason."""
    by_reason: dict[str, list[int]] = {}
    for pk, reason in listed.items():
        by_reason.setdefault(f"listed: {reason}", []).append(pk)
    if skipped:
        by_reason["skipped: Resource Graph saw no change"] = list(skipped)
    for reason, pks in by_reason.items():
        Subscription.objects.filter(pk__in=pks).update(last_planned_at=at, last_plan=reason[:300])


def discover_all(
    *,
    only: list[str] | None = None,
    on_error: Callable[[AzureConnection, errors.ArmError], None] | None = None,
) -> list[tuple[Subscription, list[AzureConnection]]]:
    """Discover through every enabled connection. Each subscription comes back once, with the connections that
    see it (two service principals of one tenant, the environment's and a stored one, or Lighthouse access from
    two tenants), and is synced through exactly one of them: the one that synced it before while it still sees
    it, else the first by name. A connection that cannot list its subscriptions is reported to `on_error` and
    skipped."""
    seen: dict[int, tuple[Subscription, list[AzureConnection]]] = {}
    for connection in AzureConnection.objects.filter(is_enabled=True).order_by("name", "pk"):
        try:
            found = discover(connection, only=only)
        except errors.ArmError as exc:
            if on_error is not None:
                on_error(connection, exc)
            continue
        for subscription in found:
            seen.setdefault(subscription.pk, (subscription, []))[1].append(connection)
    for subscription, connections in seen.values():
        fields = []
        if subscription.connection_id not in {c.pk for c in connections}:
            subscription.connection = connections[0]
            fields.append("connection")
        names = [c.name for c in connections]
        if subscription.visible_through != names:
            subscription.visible_through = names
            fields.append("visible_through")
        if fields:
            subscription.save(update_fields=fields)
    return list(seen.values())


def _start_run(
    subscription: Subscription, trigger: str, run_id: int | None, holder: str
) -> tuple[SyncRun, bool]:
    """A new run, or the same run again when a task retries it (resuming from its last completed page)."""
    now = timezone.now()
    # A run left "running" by a worker that died (its lease expired) is closed as abandoned.
    stale = SyncRun.objects.filter(subscription=subscription, status=SyncRun.Status.RUNNING)
    if run_id:
        stale = stale.exclude(pk=run_id)
    stale.update(
        status=SyncRun.Status.FAILED, finished_at=now, errors=["abandoned: the worker stopped mid-run"]
    )
    if run_id:
        run = SyncRun.objects.filter(pk=run_id, subscription=subscription).first()
        if run is not None and run.status != SyncRun.Status.SUCCEEDED:
            resumed = bool(run.resume_token)
            run.status, run.worker, run.finished_at = SyncRun.Status.RUNNING, holder, None
            run.save(update_fields=["status", "worker", "finished_at"])
            return run, resumed
    run = SyncRun.objects.create(subscription=subscription, trigger=trigger, started_at=now, worker=holder)
    return run, False


def sync_subscription(
    subscription_pk: int, *, trigger: str = "schedule", run_id: int | None = None, holder: str | None = None
) -> SyncRun | None:
    """Sync one subscription. Returns None when another worker holds its lease. Raises SyncFailed."""
    holder = holder or worker_name()
    if not lease_acquire(subscription_pk, holder):
        log.info("subscription %s is being synced by another worker", subscription_pk)
        return None
    subscription = Subscription.objects.select_related("connection").get(pk=subscription_pk)
    run, resumed = _start_run(subscription, trigger, run_id, holder)
    config = config_for(subscription.connection)
    calls_before = operations.arm_calls(config)
    # a retried run adds this attempt's stages to those of the attempts before
    with recording(initial=run.stages if run_id else None) as recorder:
        try:
            with alert_sync.relaxed_commits():
                _sync(subscription, run, config, resumed=resumed, holder=holder, recorder=recorder)
        except errors.ArmError as exc:
            _finish(run, subscription, config, calls_before, recorder, error=exc)
            if isinstance(exc, errors.ArmAuthError):
                mark_connection(
                    subscription.connection, healthy=False, reason=f"Azure refused the credential: {exc}"
                )
            raise SyncFailed(run.pk, exc) from exc
        except LeaseLost as exc:
            _finish(run, subscription, config, calls_before, recorder, error=errors.ArmError(str(exc)))
            return run
        finally:
            lease_release(subscription_pk, holder)
        _finish(run, subscription, config, calls_before, recorder)
    mark_connection(subscription.connection, healthy=True)
    return run


def _sync(
    subscription: Subscription,
    run: SyncRun,
    config: Any,
    *,
    resumed: bool,
    holder: str,
    recorder: StageRecorder,
) -> None:
    sid = subscription.subscription_id
    now = timezone.now()
    if not resumed:
        with stage("inventory"):
            counts = inventory.vaults_sync(
                subscription=subscription, items=operations.list_vaults(config, sid), now=now
            )
            run.vaults = sum(counts.values()) - counts.get("skipped", 0)
            pricings_sync(subscription=subscription, items=operations.list_pricings(config, sid), now=now)
            contacts_sync(subscription=subscription, items=operations.list_contacts(config, sid), now=now)
            rules_sync(
                subscription=subscription, items=operations.list_suppression_rules(config, sid), now=now
            )
    table_rows = alert_sync.estimated_rows()
    vault_index = inventory.vault_index(subscription)
    backlog = subscription.first_sync_completed_at is None
    seen: set[int] = set()
    complete = not resumed
    progress = {"saved": time.monotonic(), "renewed": time.monotonic()}

    def store(batch: Batch) -> None:
        # One transaction per batch: its alerts, what the features above alerts make of them (suppression,
        # incidents, notification batches, webhook deliveries) and the resume point after its last page. A worker
        # that dies mid-batch leaves nothing of it, and the retried run resumes at the batch's first page.
        started = time.perf_counter()
        with transaction.atomic():
            result = alert_sync.store_page(
                subscription_pk=subscription.pk, work=batch.work, now=timezone.now()
            )
            if result.new_ids:  # regroups every key the batch touched, changed alerts' included
                alerts_on_new(
                    alert_ids=result.new_ids,
                    subscription_pk=subscription.pk,
                    backlog=backlog,
                    correlation_keys=result.correlation_keys,
                    candidates=result.new_candidates,
                )
            elif result.correlation_keys:
                alerts_on_changed(subscription_pk=subscription.pk, correlation_keys=result.correlation_keys)
            seen.update(result.seen_ids)
            run.pages += batch.pages
            run.alerts_new += len(result.new_ids)
            run.alerts_changed += result.changed
            run.alerts_unchanged += result.unchanged
            run.alerts_malformed += result.malformed
            run.resume_token = batch.next_link
            run.store_seconds += time.perf_counter() - started
            # The resume point is saved with every batch that wrote something, and at least every second
            # otherwise (a retried run re-reads at most a second of unchanged pages). The lease is renewed well
            # before it expires.
            now = time.monotonic()
            wrote = bool(result.new_ids or result.changed or result.malformed)
            if wrote or now - progress["saved"] >= 1.0 or not batch.next_link:
                with stage("progress"):
                    run.stages = recorder.as_dict()
                    run.save(update_fields=PROGRESS_FIELDS)
                    if now - progress["renewed"] >= settings.SYNC_LEASE_SECONDS / 3:
                        lease_renew(subscription.pk, holder)
                        progress["renewed"] = now
                progress["saved"] = now

    threaded = db_connection.vendor == "postgresql" and not db_connection.in_atomic_block
    writer = BatchWriter(store, threaded=threaded, recorder=recorder)
    pages = prefetch(
        operations.iter_alert_pages(config, sid, start=run.resume_token or None), depth=PREFETCH_PAGES
    )
    items: list[Any] = []
    gathered = 0
    prepare_seconds = (
        0.0  # the writer adds its own time to run.store_seconds; this thread's is added at the end
    )
    try:
        while True:
            t0 = time.perf_counter()
            with stage("fetch"):
                page = next(pages, None)
            run.fetch_seconds += time.perf_counter() - t0
            if page is not None:
                items.extend(page.items)
                gathered += 1
                if len(items) < settings.SYNC_BATCH_ALERTS and page.next_link:
                    continue  # gather a few pages: a batch's statements are per batch, not per page
            if gathered:
                t1 = time.perf_counter()
                work = alert_sync.prepare_page(
                    subscription_pk=subscription.pk,
                    subscription_id=sid,
                    items=items,
                    vault_index=vault_index,
                    now=timezone.now(),
                    in_flight=writer.in_flight(),
                )
                prepare_seconds += time.perf_counter() - t1
                next_link = (page.next_link or "") if page is not None else ""
                new_ids = frozenset(p.arm_id for p in work.new)
                writer.submit(Batch(work=work, pages=gathered, next_link=next_link, new_ids=new_ids))
                items, gathered = [], 0
            if page is None or not page.next_link:
                break
    except BaseException:
        writer.close(failed=True)
        raise
    writer.close()
    run.store_seconds += prepare_seconds
    if complete:
        with stage("gone"):
            run.alerts_gone = alert_sync.mark_gone(
                subscription_pk=subscription.pk, seen_ids=seen, now=timezone.now()
            )
    if run.alerts_new >= 1000 and run.alerts_new >= table_rows:
        # The run at least doubled the alert table (a first load): the planner's statistics are stale until
        # autovacuum gets to it, so refresh them now for the pages and the next runs.
        with stage("analyze"):
            _analyze()


def _analyze() -> None:
    """Refresh the planner's statistics of the tables a first load fills (PostgreSQL; a no-op elsewhere)."""
    if db_connection.vendor != "postgresql":
        return
    with db_connection.cursor() as cursor:
        for model in (Alert, AlertRollup, Incident):
            cursor.execute(f"ANALYZE {db_connection.ops.quote_name(model._meta.db_table)}")


def _finish(
    run: SyncRun,
    subscription: Subscription,
    config: Any,
    calls_before: int,
    recorder: StageRecorder,
    error: errors.ArmError | None = None,
) -> None:
    now = timezone.now()
    run.finished_at = now
    run.arm_calls = operations.arm_calls(config) - calls_before
    run.stages = recorder.as_dict()
    if error is None:
        run.status = SyncRun.Status.SUCCEEDED
        run.resume_token = ""
        with transaction.atomic():
            run.save()
            fields = {"last_sync_completed_at": now}
            if subscription.first_sync_completed_at is None:
                fields["first_sync_completed_at"] = now
            Subscription.objects.filter(pk=subscription.pk).update(**fields)
    else:
        run.status = SyncRun.Status.FAILED
        run.errors = [*run.errors, f"{type(error).__name__}: {error}"][-20:]
        if isinstance(error, errors.ArmMalformed):
            run.resume_token = ""  # a malformed page: the next run starts over
        run.save()
