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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import sync as alert_sync
from alerts.contacts import contacts_sync
from alerts.services import alerts_on_new
from alerts.suppression import rules_sync
from portal.arm import errors, operations
from portal.inventory import services as inventory
from portal.inventory.azure import config_for
from portal.inventory.models import AzureConnection, Subscription, SyncLease, SyncRun
from pricing.services import pricings_sync

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    config = config_for(connection)
    try:
        items = operations.list_subscriptions(config)
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
    try:
        with alert_sync.relaxed_commits():
            _sync(subscription, run, config, resumed=resumed, holder=holder)
    except errors.ArmError as exc:
        _finish(run, subscription, config, calls_before, error=exc)
        if isinstance(exc, errors.ArmAuthError):
            mark_connection(
                subscription.connection, healthy=False, reason=f"Azure refused the credential: {exc}"
            )
        raise SyncFailed(run.pk, exc) from exc
    except LeaseLost as exc:
        _finish(run, subscription, config, calls_before, error=errors.ArmError(str(exc)))
        return run
    finally:
        lease_release(subscription_pk, holder)
    _finish(run, subscription, config, calls_before)
    mark_connection(subscription.connection, healthy=True)
    return run


def _sync(subscription: Subscription, run: SyncRun, config: Any, *, resumed: bool, holder: str) -> None:
    sid = subscription.subscription_id
    now = timezone.now()
    if not resumed:
        counts = inventory.vaults_sync(
            subscription=subscription, items=operations.list_vaults(config, sid), now=now
        )
        run.vaults = sum(counts.values()) - counts.get("skipped", 0)
        pricings_sync(subscription=subscription, items=operations.list_pricings(config, sid), now=now)
        contacts_sync(subscription=subscription, items=operations.list_contacts(config, sid), now=now)
        rules_sync(subscription=subscription, items=operations.list_suppression_rules(config, sid), now=now)
    vault_index = inventory.vault_index(subscription)
    backlog = subscription.first_sync_completed_at is None
    seen: set[int] = set()
    complete = not resumed
    pages = prefetch(operations.iter_alert_pages(config, sid, start=run.resume_token or None))
    last_save = last_renew = time.monotonic()
    while True:
        t0 = time.perf_counter()
        page = next(pages, None)
        t1 = time.perf_counter()
        run.fetch_seconds += t1 - t0
        if page is None:
            break
        result = alert_sync.upsert_page(
            subscription_pk=subscription.pk,
            subscription_id=sid,
            items=page.items,
            vault_index=vault_index,
            now=timezone.now(),
        )
        seen.update(result.seen_ids)
        run.store_seconds += time.perf_counter() - t1
        run.pages += 1
        run.alerts_new += len(result.new_ids)
        run.alerts_changed += result.changed
        run.alerts_unchanged += result.unchanged
        run.alerts_malformed += result.malformed
        run.resume_token = page.next_link or ""
        now = time.monotonic()
        # Progress (the resume point) is saved after every page that wrote something, and at least every second
        # otherwise: a retried run re-reads at most a second of unchanged pages. The lease is renewed well
        # before it expires. One transaction, one commit.
        wrote = bool(result.new_ids or result.changed or result.malformed)
        if wrote or now - last_save >= 1.0 or not page.next_link:
            with transaction.atomic():
                run.save(update_fields=PROGRESS_FIELDS)
                if now - last_renew >= settings.SYNC_LEASE_SECONDS / 3:
                    lease_renew(subscription.pk, holder)
                    last_renew = now
            last_save = now
        if result.new_ids:
            alerts_on_new(alert_ids=result.new_ids, subscription_pk=subscription.pk, backlog=backlog)
    if complete:
        run.alerts_gone = alert_sync.mark_gone(
            subscription_pk=subscription.pk, seen_ids=seen, now=timezone.now()
        )


def _finish(
    run: SyncRun,
    subscription: Subscription,
    config: Any,
    calls_before: int,
    error: errors.ArmError | None = None,
) -> None:
    now = timezone.now()
    run.finished_at = now
    run.arm_calls = operations.arm_calls(config) - calls_before
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
