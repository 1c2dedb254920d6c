"""Sync tasks. The schedule (settings.CELERY_BEAT_SCHEDULE) runs sync_all; it fans out one task per subscription."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from django.utils import timezone

from portal.arm import errors
from portal.inventory.models import AzureConnection, Subscription
from portal.inventory.services import connection_from_environment
from sync import graph
from sync import orchestrator as sync

log = logging.getLogger(__name__)
MAX_RUN_RETRIES = 3


def queue_order(groups: list[list[Subscription]]) -> list[Subscription]:
    """The round's queue: within each connection, due soonest first (never synced, then the oldest last sync); the
    connections' queues interleaved one subscription at a time, so that one big tenant's round never holds another
    tenant's subscriptions back behind all of its own."""
    far_past = datetime.min.replace(tzinfo=UTC)
    queues = [
        sorted(group, key=lambda s: (s.last_sync_completed_at or far_past, s.subscription_id))
        for group in groups
    ]
    order: list[Subscription] = []
    for i in range(max((len(q) for q in queues), default=0)):
        order += [q[i] for q in queues if i < len(q)]
    return order


@shared_task(name="portal.inventory.tasks.sync_all")
def sync_all() -> int:
    """Discover each connection's subscriptions, then queue one sync per subscription to list, and one plan_group
    per group of subscriptions Resource Graph decides for (connections above RESOURCE_GRAPH_THRESHOLD). Returns the
    tasks queued."""
    connection_from_environment()

    def failed_listing(connection: AzureConnection, exc: errors.ArmError) -> None:
        log.warning("cannot list subscriptions of %s: %s", connection, exc)

    now = timezone.now()
    found = sync.discover_all(only=settings.AZURE_SUBSCRIPTION_IDS or None, on_error=failed_listing)
    by_connection: dict[int, list[Subscription]] = {}
    for subscription, _seen_by in found:  # each subscription once, through the connection that syncs it
        by_connection.setdefault(subscription.connection_id, []).append(subscription)
    listed: list[list[Subscription]] = []
    planned: list[list[tuple[int, list[int]]]] = []
    for subscriptions in by_connection.values():
        if graph.applies(subscriptions):
            direct, candidates = graph.triage(subscriptions, now=now)
            groups = graph.groups(candidates)
            planned.append([(subscriptions[0].connection_id, [s.pk for s in g]) for g in groups])
            log.info(
                "Resource Graph decides for %d of %d subscriptions of %s (%d groups)",
                len(candidates),
                len(subscriptions),
                subscriptions[0].connection,
                len(groups),
            )
        else:
            direct = {s.pk: "below the Resource Graph threshold" for s in subscriptions}
        sync.record_plan(direct, [], at=now)
        listed.append([s for s in subscriptions if s.pk in direct])
    queued = 0
    for i in range(max((len(p) for p in planned), default=0)):  # the connections' groups interleaved
        for connection_groups in planned:
            if i < len(connection_groups):
                plan_group.delay(*connection_groups[i])
                queued += 1
    for subscription in queue_order(listed):
        sync_subscription.delay(subscription.pk, trigger="schedule")
        queued += 1
    return queued


@shared_task(name="sync.plan_group")
def plan_group(connection_pk: int, subscription_pks: list[int]) -> str:
    """Resource Graph's questions for one group of subscriptions (sync.graph.ask), then one sync per subscription
    it lists. Planning spreads over the workers; they share the principal's quota (sync/budget.py)."""
    connection = AzureConnection.objects.filter(pk=connection_pk, is_enabled=True).first()
    if connection is None:
        return "skipped: the connection is gone or disabled"
    by_pk = Subscription.objects.filter(
        pk__in=subscription_pks, connection=connection, in_azure=True
    ).in_bulk()
    group = [by_pk[pk] for pk in subscription_pks if pk in by_pk]  # due soonest first, as queued
    if not group:
        return "skipped: no subscription left to decide for"
    plan = graph.ask(connection, group)
    sync.record_plan(plan.listed, plan.skipped, at=timezone.now())
    for sub in group:
        if sub.pk in plan.listed:
            sync_subscription.delay(sub.pk, trigger="schedule")
    return f"{len(plan.listed)} listed, {len(plan.skipped)} skipped, {plan.queries} queries" + (
        f"; {plan.fallback}" if plan.fallback else ""
    )


@shared_task(
    bind=True,
    name="portal.inventory.tasks.sync_subscription",
    max_retries=MAX_RUN_RETRIES,
    acks_late=True,
    reject_on_worker_lost=False,
)
# self: Task[..., str], since a parameter list (Task[[int, str, int | None], str]) cannot spell the defaults below
def sync_subscription(
    self: Task[..., str],
    subscription_pk: int,
    trigger: str = "schedule",
    run_id: int | None = None,
) -> str:
    """One sync run. Only a whole run is retried (the SDK already retried each request); it resumes from its
    last completed page."""
    try:
        run = sync.sync_subscription(subscription_pk, trigger=trigger, run_id=run_id)
    except (OperationalError, InterfaceError) as exc:
        # The database went away mid-run (a restart, a failover): the run and its lease stay as they were; try
        # again once the lease has expired, and the run resumes from its last committed page.
        close_old_connections()
        if self.request.retries < MAX_RUN_RETRIES:
            log.warning("sync of subscription %s lost the database (%s); retrying", subscription_pk, exc)
            raise self.retry(
                countdown=settings.SYNC_LEASE_SECONDS + random.uniform(1, 5),
                kwargs={"subscription_pk": subscription_pk, "trigger": trigger},
            ) from exc
        raise
    except sync.SyncFailed as exc:
        if isinstance(exc.error, errors.TRANSIENT) and self.request.retries < MAX_RUN_RETRIES:
            countdown = min(300, 15 * 2**self.request.retries) + random.uniform(0, 5)
            raise self.retry(
                countdown=countdown,
                kwargs={"subscription_pk": subscription_pk, "trigger": trigger, "run_id": exc.run_id},
            ) from exc
        return f"failed: {exc}"
    if run is None:
        return "skipped: another worker holds the lease"
    return (
        f"{run.status}: {run.alerts_new} new, {run.alerts_changed} changed, {run.alerts_unchanged} unchanged"
    )
