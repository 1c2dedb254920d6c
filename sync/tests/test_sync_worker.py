"""Sync through a real Celery worker process on Redis; a worker killed mid-run; the database converges."""

from __future__ import annotations

import time

import pytest

from alerts.models import Alert
from portal.testing.fixtures import wait_for
from sync.models import SyncRun
from sync.tasks import sync_all, sync_subscription

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _upstream(emulator):
    return {
        s["subscription_id"].lower(): s["alerts"] for s in emulator.control("GET", "state")["subscriptions"]
    }


def test_scheduled_sync_fans_out_one_task_per_subscription(celery_worker, emulator):
    """A scheduled round through the worker, with a second connection that sees the first tenant's subscriptions
    (the same service principal stored twice): each subscription is synced once."""
    from portal.inventory.services import connection_save

    emulator.load_connections()
    entry = emulator.connections[0]
    connection_save(
        actor=None,
        data={
            "name": f"{entry['name']} (second)",
            "tenant_id": entry["tenant_id"],
            "client_id": entry["client_id"],
            "arm_endpoint": emulator.base_url,
            "authority_host": emulator.base_url,
        },
        secret=entry["client_secret"],
    )
    result = sync_all.delay()
    assert result.get(timeout=60) == 3
    upstream = _upstream(emulator)
    wait_for(
        lambda: SyncRun.objects.filter(status="succeeded").count() >= 3,
        timeout=60,
        what=f"three sync runs\n{celery_worker.logs()}",
    )
    for sid, count in upstream.items():
        assert Alert.objects.filter(subscription__subscription_id=sid).count() == count
        assert SyncRun.objects.filter(subscription__subscription_id=sid).count() == 1


def test_worker_killed_mid_run_then_the_next_run_converges(celery_worker, emulator):
    subs = emulator.discover()
    upstream = _upstream(emulator)
    sub = max(subs, key=lambda s: upstream[s.subscription_id])
    emulator.add_alerts(sub.subscription_id, count=650)  # ~9 pages
    emulator.fault("alerts.list", "latency", times=100, latency_ms=400)
    sync_subscription.delay(sub.pk, trigger="test")
    wait_for(
        lambda: SyncRun.objects.filter(subscription=sub, pages__gte=2).exists(),
        timeout=60,
        what=f"a run in progress\n{celery_worker.logs()}",
    )
    celery_worker.stop(kill=True)  # SIGKILL mid-run
    partial = Alert.objects.filter(subscription=sub).count()
    assert 0 < partial < upstream[sub.subscription_id] + 650

    emulator.control("DELETE", "faults")
    celery_worker.start()

    # The dead worker's lease expires (SYNC_LEASE_SECONDS=4 for test workers); the next run completes. A sync is
    # asked for every 5 s (as the schedule would) without blocking on one message: a run that finds the old lease
    # still held is skipped, and the next request gets through.
    asked = [0.0]

    def converged() -> bool:
        if time.monotonic() - asked[0] > 5:
            sync_subscription.delay(sub.pk, trigger="test")
            asked[0] = time.monotonic()
        return SyncRun.objects.filter(subscription=sub, status="succeeded").exists()

    wait_for(converged, timeout=90, interval=0.5, what=f"a completed run\n{celery_worker.logs()}")
    expected = _upstream(emulator)[sub.subscription_id]
    assert Alert.objects.filter(subscription=sub).count() == expected
    assert Alert.objects.filter(subscription=sub).values("arm_id").distinct().count() == expected
    abandoned = SyncRun.objects.get(subscription=sub, pages__gte=2, status="failed")
    assert "abandoned" in abandoned.errors[0]
