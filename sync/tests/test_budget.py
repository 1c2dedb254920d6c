"""The budget workers share per principal (Redis, one Lua script): taken before each Resource Graph query, fed by
its quota headers, so the workers keep within the quota instead of finding it with 429s."""

from __future__ import annotations

import threading
import time

import pytest

from portal.testing.services import need_redis
from sync import budget
from sync import orchestrator as sync
from sync.graph import plan_listing

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture
def redis_budget(settings):
    need_redis()
    principal = f"test-{time.monotonic_ns()}"
    yield principal
    budget.forget(principal, "resourcegraph")


@pytest.fixture
def small_quota(monkeypatch):
    """Resource Graph's bucket scaled down for speed: 3 queries per second (a window of 1 s), same shape."""
    monkeypatch.setitem(budget.KINDS, "resourcegraph", budget.Kind(3, 3.0))


def test_a_burst_then_nothing_until_the_window_has_passed_then_the_average_rate(
    redis_budget, small_quota
) -> None:
    """A full bucket's burst (3) is all the window (1 s) allows; then one token each 1/3 s. A plain bucket would
    have refilled during the burst's window and let a 4th and 5th through within it."""
    started = time.monotonic()
    for _ in range(3):
        assert budget.take(redis_budget, "resourcegraph") == 0.0
    budget.take(redis_budget, "resourcegraph")
    fourth = time.monotonic() - started
    budget.take(redis_budget, "resourcegraph")
    fifth = time.monotonic() - started
    assert 1.2 < fourth < 1.8 and 0.2 < fifth - fourth < 0.6


def test_an_empty_quota_holds_every_taker_off_until_it_resets(redis_budget) -> None:
    budget.observe(redis_budget, "resourcegraph", remaining=0, resets_after=1.5)
    started = time.monotonic()
    budget.take(redis_budget, "resourcegraph")
    assert time.monotonic() - started >= 1.4
    with pytest.raises(TimeoutError):
        budget.observe(redis_budget, "resourcegraph", remaining=0, resets_after=30)
        budget.take(redis_budget, "resourcegraph", deadline=1)


def test_what_azure_says_is_left_caps_the_bucket_and_an_empty_quota_refills_from_empty(
    redis_budget, small_quota
) -> None:
    """2 left: two queries go at once, the third waits for a token (1/3 s). Then nothing left for 1.2 s: the next
    waits for the reset and one refill more, not for the reset alone (no burst of what it gathered meanwhile)."""
    budget.observe(redis_budget, "resourcegraph", remaining=2, resets_after=4)
    assert budget.take(redis_budget, "resourcegraph") == 0.0
    assert budget.take(redis_budget, "resourcegraph") == 0.0
    assert 0.2 < budget.take(redis_budget, "resourcegraph") < 0.6
    budget.observe(redis_budget, "resourcegraph", remaining=0, resets_after=1.2)
    started = time.monotonic()
    budget.take(redis_budget, "resourcegraph")
    assert time.monotonic() - started >= 1.4  # 1.2 s hold + 1/3 s refill


def test_workers_share_one_bucket(redis_budget, small_quota) -> None:
    """Two workers taking 3 each from one bucket of 3 (1 s window): three of the six wait (the window, then 1/3 s
    each: ≈ 2 s)."""
    waits: list[float] = []

    def worker() -> None:
        waits.extend(budget.take(redis_budget, "resourcegraph") for _ in range(3))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in waits if w > 0) == 3
    assert time.monotonic() - started >= 1.6


@pytest.fixture
def contoso(emulator, settings):
    settings.RESOURCE_GRAPH_THRESHOLD = 1
    settings.RESOURCE_GRAPH_GROUP_SIZE = 1  # 2 subscriptions: 4 queries a round
    own = {i.lower() for i in emulator.connections[0]["subscription_ids"]}
    subs = list({s.pk: s for s in emulator.discover() if s.subscription_id.lower() in own}.values())
    for sub in subs:
        sync.sync_subscription(sub.pk, trigger="test")
    emulator.control("POST", "resource-graph-quota", json={"limit": 3, "window_seconds": 2})
    emulator.clear_requests()
    connection = subs[0].connection
    budget.forget(f"{connection.tenant_id}:{connection.client_id}", "resourcegraph")
    return [type(s).objects.get(pk=s.pk) for s in subs]


def _graph_answers(emulator) -> list[int]:
    return [r["status"] for r in emulator.requests() if r["op"] == "resourcegraph.query"]


def test_the_shared_budget_keeps_within_the_quota(emulator, contoso, settings) -> None:
    need_redis()
    settings.RESOURCE_GRAPH_SHARED_BUDGET = True
    plan = plan_listing(contoso[0].connection, contoso)
    assert not plan.fallback and plan.listed == {} and plan.queries == 4
    assert _graph_answers(emulator) == [
        200,
        200,
        200,
        200,
    ]  # it waited for the reset instead of meeting a 429


def test_without_it_the_quota_is_found_by_429s_and_everything_is_listed(emulator, contoso, settings) -> None:
    settings.RESOURCE_GRAPH_SHARED_BUDGET = False
    plan = plan_listing(contoso[0].connection, contoso)
    assert plan.fallback and "listed because Resource Graph did not answer" in plan.listed.values()
    assert 429 in _graph_answers(emulator)


def test_without_redis_the_bucket_lives_in_the_process(settings, small_quota) -> None:
    settings.REDIS_URL = ""
    principal = f"local-{time.monotonic_ns()}"
    assert [budget.take(principal, "resourcegraph") for _ in range(3)] == [0.0] * 3
    assert budget.take(principal, "resourcegraph") > 1.2
    budget.forget(principal, "resourcegraph")
