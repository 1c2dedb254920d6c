"""The sync's writer thread (PostgreSQL, outside a transaction, as a worker runs it): batches are stored in order on
its own connection while the next one is parsed; an id listed twice is not inserted twice; an error in the writer
ends the run with nothing of its batch stored."""

from __future__ import annotations

import dataclasses

import pytest

from alerts import sync as alert_sync
from alerts.models import Alert
from portal.arm import operations
from portal.testing.services import need_postgres
from sync import orchestrator as sync
from sync.models import SyncLease, SyncRun
from triage.models import Incident

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_task_messages(monkeypatch):
    """The syncs below commit for real (no test transaction): the write-backs they queue (the demo's suppression
    rule dismisses some alerts) must not reach a real worker, which would still be writing while the test's
    database is flushed."""
    from celery.app.task import Task

    queued = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **kw: queued.append(self.name))
    return queued


@pytest.fixture
def biggest(emulator, settings):
    need_postgres()
    settings.SYNC_BATCH_ALERTS = 100  # a page per batch: several batches in flight
    counts = {
        s["subscription_id"].lower(): s["alerts"] for s in emulator.control("GET", "state")["subscriptions"]
    }
    subs = emulator.discover()
    return max(subs, key=lambda s: counts[s.subscription_id]), counts


def test_the_writer_thread_stores_every_batch_in_order(biggest):
    sub, counts = biggest
    threads = []
    original = sync.BatchWriter.__init__

    def spy(self, *args, **kw):
        original(self, *args, **kw)
        threads.append(self.thread)

    sync.BatchWriter.__init__ = spy
    try:
        run = sync.sync_subscription(sub.pk, trigger="test")
    finally:
        sync.BatchWriter.__init__ = original
    assert threads and threads[0] is not None, "the writer must run in its own thread here"
    assert run.status == "succeeded" and run.pages >= 3
    assert Alert.objects.filter(subscription=sub).count() == counts[sub.subscription_id] == run.alerts_new
    assert Incident.objects.filter(subscription=sub).exists()
    assert run.stages["upsert"]["statements"] > 0  # the writer's statements are counted too


def test_an_id_listed_again_in_the_next_batch_is_not_inserted_twice(biggest, monkeypatch):
    sub, counts = biggest
    real = operations.iter_alert_pages

    def twice(config, sid, start=None):
        pages = iter(real(config, sid, start=start))
        first = next(pages)
        yield dataclasses.replace(first, next_link=first.next_link or "x")
        yield first  # the same alerts again, in the batch right after (still being written)
        yield from pages

    monkeypatch.setattr(operations, "iter_alert_pages", twice)
    run = sync.sync_subscription(sub.pk, trigger="test")
    assert run.status == "succeeded"
    assert Alert.objects.filter(subscription=sub).count() == counts[sub.subscription_id]
    assert run.alerts_new == counts[sub.subscription_id]
    assert run.alerts_unchanged == 100  # the repeated page, found stored by then


def test_an_error_in_the_writer_ends_the_run_and_keeps_the_batches_before(biggest, monkeypatch):
    sub, _ = biggest
    real = alert_sync.store_page
    calls = []

    def failing(**kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kw)

    monkeypatch.setattr(alert_sync, "store_page", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        sync.sync_subscription(sub.pk, trigger="test")
    run = SyncRun.objects.get(subscription=sub)
    assert Alert.objects.filter(subscription=sub).count() == 100 == run.alerts_new  # the first batch only
    assert run.resume_token  # the next run resumes after it
    assert not SyncLease.objects.get(subscription=sub).holder  # released
