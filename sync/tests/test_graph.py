"""Resource Graph decides which subscriptions a round lists: against the emulator, through the real
ResourceGraphClient and credential. New alerts and status-only changes of old alerts are both found in one round;
every other subscription is skipped; any doubt lists everything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from portal.inventory.models import Subscription
from sync import budget
from sync import orchestrator as sync
from sync.graph import plan_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def contoso(emulator, settings):
    """Contoso's two subscriptions (one connection), synced once; the graph path on for more than one."""
    settings.RESOURCE_GRAPH_THRESHOLD = 1
    own = {i.lower() for i in emulator.connections[0]["subscription_ids"]}
    subs = list({s.pk: s for s in emulator.discover() if s.subscription_id.lower() in own}.values())
    assert len(subs) == 2
    for sub in subs:
        sync.sync_subscription(sub.pk, trigger="test")
    connection = subs[
        0
    ].connection  # the principal's shared budget starts full (another test may have emptied it)
    budget.forget(f"{connection.tenant_id}:{connection.client_id}", "resourcegraph")
    return [Subscription.objects.get(pk=s.pk) for s in subs]


def _plan(subs):
    return plan_listing(subs[0].connection, subs)


def test_nothing_changed_lists_nothing(emulator, contoso):
    plan = _plan(contoso)
    assert plan.used_graph and not plan.fallback
    assert plan.listed == {} and sorted(plan.skipped) == sorted(s.pk for s in contoso)
    assert plan.queries == 2  # one group: new alerts, and counts by status
    assert plan.quota_remaining is not None and plan.quota_remaining < 15
    assert [r["op"] for r in emulator.requests()].count("resourcegraph.query") == 2


def test_new_alerts_and_status_only_changes_of_old_alerts_in_the_same_round(emulator, contoso):
    with_new, with_status = contoso
    emulator.add_alerts(with_new.subscription_id, count=2, alert_type="KV_TORAccess")
    old = (
        Alert.objects.filter(subscription=with_status, azure_status="Active")
        .order_by("time_generated")
        .first()
    )
    assert old is not None and old.time_generated < timezone.now() - timedelta(
        days=1
    )  # outside the time window
    emulator.control("PATCH", "alerts", json={"id": old.azure_id, "properties": {"status": "Dismissed"}})
    plan = _plan(contoso)
    assert plan.listed == {with_new.pk: "new alerts", with_status.pk: "alert counts by status differ"}
    # listing what the plan named brings the portal in step, and the next round has nothing to list
    for sub in contoso:
        sync.sync_subscription(sub.pk, trigger="test")
    old.refresh_from_db()
    assert old.azure_status == "Dismissed"
    assert _plan([Subscription.objects.get(pk=s.pk) for s in contoso]).listed == {}


def test_each_subscription_is_still_listed_in_full_every_hour(emulator, contoso, settings):
    stale, fresh = contoso
    Subscription.objects.filter(pk=stale.pk).update(
        last_sync_completed_at=timezone.now() - timedelta(seconds=settings.FULL_LISTING_SECONDS + 60)
    )
    plan = _plan([Subscription.objects.get(pk=s.pk) for s in contoso])
    assert plan.listed == {stale.pk: "full listing due"} and plan.skipped == [fresh.pk]


def test_below_the_threshold_every_subscription_is_listed_without_asking(emulator, contoso, settings):
    settings.RESOURCE_GRAPH_THRESHOLD = 5
    emulator.clear_requests()
    plan = _plan(contoso)
    assert not plan.used_graph and set(plan.listed) == {s.pk for s in contoso}
    assert not [r for r in emulator.requests() if r["op"] == "resourcegraph.query"]


@pytest.mark.parametrize("how", ["500", "quota", "malformed", "result_truncated"])
def test_when_resource_graph_cannot_answer_every_subscription_is_listed(emulator, contoso, how):
    if (
        how == "quota"
    ):  # exhausted for longer than a round can wait (the shared budget waits for shorter resets)
        emulator.control("POST", "resource-graph-quota", json={"limit": 1, "window_seconds": 3600})
    else:  # result_truncated: a well-formed answer that says `"resultTruncated": "true"`
        emulator.fault("resourcegraph.query", how, times=20)
    plan = _plan(contoso)
    assert plan.used_graph and plan.fallback
    assert set(plan.listed) == {s.pk for s in contoso} and plan.skipped == []


def test_a_round_queues_due_soonest_first_and_interleaves_tenants() -> None:
    """One big tenant's round never holds another tenant's subscriptions back behind all of its own."""
    from types import SimpleNamespace

    from sync.tasks import queue_order

    now = timezone.now()

    def sub(name: str, minutes_ago: int | None) -> SimpleNamespace:
        done = None if minutes_ago is None else now - timedelta(minutes=minutes_ago)
        return SimpleNamespace(subscription_id=name, last_sync_completed_at=done)

    big = [sub("big-1", 5), sub("big-2", 50), sub("big-3", None), sub("big-4", 10)]
    small = [sub("small-1", 5), sub("small-2", 30)]
    order = [s.subscription_id for s in queue_order([big, small])]
    assert order == ["big-3", "small-2", "big-2", "small-1", "big-4", "big-1"]
    assert queue_order([]) == []


def test_a_round_spreads_the_questions_over_tasks_and_records_each_decision(
    emulator, contoso, settings, monkeypatch
):
    """sync_all queues one plan_group per group (here 1 subscription each) and lists the never-synced lab at once;
    each plan_group lists what changed and skips the rest; every subscription's decision is kept."""
    from sync import tasks

    settings.RESOURCE_GRAPH_GROUP_SIZE = 1
    prod, dev = contoso
    lab = Subscription.objects.exclude(pk__in=[prod.pk, dev.pk]).get()  # Fabrikam's, delegated to Contoso
    assert lab.connection_id == prod.connection_id and lab.last_sync_completed_at is None
    emulator.add_alerts(prod.subscription_id, count=2)
    groups, syncs = [], []
    monkeypatch.setattr(tasks.plan_group, "delay", lambda *args: groups.append(args))
    monkeypatch.setattr(tasks.sync_subscription, "delay", lambda pk, **kw: syncs.append(pk))
    assert tasks.sync_all() == 3
    assert sorted(pks for _c, pks in groups) == sorted([[prod.pk], [dev.pk]]) and syncs == [lab.pk]
    for connection_pk, pks in groups:
        tasks.plan_group(connection_pk, pks)
    assert syncs == [lab.pk, prod.pk]
    plans = dict(Subscription.objects.values_list("pk", "last_plan"))
    assert plans == {
        prod.pk: "listed: new alerts",
        dev.pk: "skipped: Resource Graph saw no change",
        lab.pk: "listed: never listed",
    }
