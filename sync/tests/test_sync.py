"""Sync from Azure (the emulator, through the real SDK pipeline and credential over HTTPS) into the database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertRollup, MalformedAlert
from alerts.status import alert_set_status
from notifications.models import SecurityContact
from portal.arm import errors
from portal.inventory.models import AzureConnection, KeyVault
from pricing.models import Pricing
from suppression.models import SuppressionRule
from sync import orchestrator as sync
from sync.models import SyncLease, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def subs(emulator):
    """The demo subscriptions, the one with the most alerts (several pages) first."""
    counts = {
        s["subscription_id"].lower(): s["alerts"] for s in emulator.control("GET", "state")["subscriptions"]
    }
    return sorted(emulator.discover(), key=lambda s: -counts[s.subscription_id])


def _sync(sub, **kw):
    return sync.sync_subscription(sub.pk, trigger="test", **kw)


def _alert_rows(sub):
    return list(Alert.objects.filter(subscription=sub).order_by("arm_id").values())


def test_first_sync_stores_everything(emulator, subs):
    sub = subs[0]
    state = emulator.control("GET", "state")
    run = _sync(sub)
    assert run.status == SyncRun.Status.SUCCEEDED
    upstream = next(s for s in state["subscriptions"] if s["subscription_id"].lower() == sub.subscription_id)
    assert Alert.objects.filter(subscription=sub).count() == upstream["alerts"] == run.alerts_new
    assert KeyVault.objects.filter(subscription=sub).count() == upstream["vaults"]
    assert Pricing.objects.filter(subscription=sub).count() >= 13
    assert SecurityContact.objects.filter(subscription=sub).exists()
    # ARM calls: vaults + pricings + contacts + rules + one per alert page
    assert run.arm_calls == 4 + run.pages
    assert run.pages == -(-run.alerts_new // 100)
    # alerts know their key vault (one indexed query for a vault's alerts)
    kv_alerts = Alert.objects.filter(subscription=sub, plan="KeyVaults")
    assert kv_alerts.filter(vault__isnull=False).count() == kv_alerts.count() > 0
    # the rollup counts every alert once
    assert sum(AlertRollup.objects.filter(subscription=sub).values_list("count", flat=True)) == run.alerts_new
    sub.refresh_from_db()
    assert sub.first_sync_completed_at and sub.last_sync_completed_at
    assert not SyncLease.objects.get(subscription=sub).holder  # released


def test_resync_is_idempotent_and_writes_nothing_to_the_alert_table(emulator, subs):
    sub = subs[0]
    _sync(sub)
    before = _alert_rows(sub)
    with CaptureQueriesContext(connection) as ctx:
        run = _sync(sub)
    assert run.alerts_new == run.alerts_changed == 0 and run.alerts_unchanged == len(before)
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if "alerts_alert" in q["sql"] and q["sql"].split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]
    assert writes == []
    assert _alert_rows(sub) == before
    # queries per alert page are bounded (one SELECT), not one per alert
    alert_selects = [
        q for q in ctx.captured_queries if q["sql"].startswith("SELECT") and '"alerts_alert"' in q["sql"]
    ]
    assert len(alert_selects) <= run.pages + 2


def test_changed_and_new_alerts_upstream(emulator, subs):
    sub = subs[0]
    _sync(sub)
    some = Alert.objects.filter(subscription=sub, status="Active").first()
    emulator.control("PATCH", "alerts", json={"id": some.azure_id, "properties": {"status": "Resolved"}})
    new_ids = emulator.add_alerts(sub.subscription_id, count=3, alert_type="KV_TORAccess")
    run = _sync(sub)
    assert run.alerts_new == 3 and run.alerts_changed == 1
    some.refresh_from_db()
    assert some.status == some.azure_status == "Resolved"
    assert AlertEvent.objects.filter(alert=some, kind="status_upstream").exists()
    assert Alert.objects.filter(arm_id__in=[i.lower() for i in new_ids]).count() == 3
    assert (
        sum(AlertRollup.objects.filter(subscription=sub).values_list("count", flat=True))
        == Alert.objects.filter(subscription=sub).count()
    )


def test_pending_status_survives_a_sync_and_is_confirmed_when_azure_has_it(
    emulator, subs, django_capture_on_commit_callbacks
):
    sub = subs[0]
    _sync(sub)
    alert = Alert.objects.filter(subscription=sub, status="Active").first()
    with django_capture_on_commit_callbacks(execute=False):  # the push is not sent yet
        alert_set_status(user=None, alert=alert, status="Dismissed", classification="BenignPositive")
    _sync(sub)  # Azure still says Active
    alert.refresh_from_db()
    assert (
        alert.status == "Dismissed" and alert.pending_status == "Dismissed" and alert.azure_status == "Active"
    )
    # Azure gets the change (e.g. pushed by another worker); the next sync confirms it
    emulator.control("PATCH", "alerts", json={"id": alert.azure_id, "properties": {"status": "Dismissed"}})
    _sync(sub)
    alert.refresh_from_db()
    assert alert.status == "Dismissed" and alert.pending_status == "" and alert.azure_status == "Dismissed"
    assert alert.classification == "BenignPositive"
    # reopened in Azure: the closing classification goes; the activity log keeps it
    emulator.control("PATCH", "alerts", json={"id": alert.azure_id, "properties": {"status": "Active"}})
    _sync(sub)
    alert.refresh_from_db()
    assert (alert.status, alert.classification, alert.closed_at) == ("Active", "", None)
    reopened = AlertEvent.objects.filter(alert=alert, kind="status_upstream").latest("id")
    assert reopened.data == {"from": "Dismissed", "to": "Active", "classification_cleared": "BenignPositive"}


def test_status_write_back_uses_the_resource_group_level_operation(
    emulator, subs, django_capture_on_commit_callbacks
):
    from alerts.tasks import push_alert_status

    sub = subs[0]
    _sync(sub)
    in_rg = Alert.objects.filter(
        subscription=sub, azure_id__icontains="/resourceGroups/", status="Active"
    ).first()
    at_sub = (
        Alert.objects.filter(subscription=sub, status="Active")
        .exclude(azure_id__icontains="/resourceGroups/")
        .first()
    )
    renamed = [
        a
        for a in Alert.objects.filter(subscription=sub)
        if a.name and a.name.lower() != a.arm_id.rsplit("/", 1)[1]
    ]
    assert in_rg and at_sub and renamed, "the demo data has all three kinds"
    emulator.clear_requests()
    for alert, status in ((in_rg, "Dismissed"), (at_sub, "InProgress"), (renamed[0], "Resolved")):
        with django_capture_on_commit_callbacks(execute=False):
            alert_set_status(user=None, alert=alert, status=status, classification="Undetermined")
        assert push_alert_status.apply(args=[alert.pk]).get().startswith("confirmed")
        alert.refresh_from_db()
        assert alert.pending_status == "" and alert.azure_status == status
    posts = [r for r in emulator.requests() if r["method"] == "POST"]
    assert len(posts) == 3 and all(r["status"] == 204 for r in posts)
    assert "/resourcegroups/" in posts[0]["path"].lower() and posts[0]["path"].endswith("/dismiss")
    assert "/resourcegroups/" not in posts[1]["path"].lower() and posts[1]["path"].endswith("/inProgress")
    # addressed by the last segment of the id, never by `name`
    assert renamed[0].arm_id.rsplit("/", 1)[1] in posts[2]["path"].lower()
    upstream = emulator.control("GET", "alerts", id=in_rg.azure_id)
    assert upstream["properties"]["status"] == "Dismissed"


def test_write_back_failure_is_recorded_and_shown(emulator, subs, django_capture_on_commit_callbacks):
    from alerts.tasks import push_alert_status

    sub = subs[0]
    _sync(sub)
    alert = Alert.objects.filter(subscription=sub, status="Active").first()
    with django_capture_on_commit_callbacks(execute=False):
        alert_set_status(user=None, alert=alert, status="Resolved", classification="TruePositive")
    alert.azure_id = alert.azure_id.rsplit("/", 1)[0] + "/does-not-exist"
    Alert.objects.filter(pk=alert.pk).update(azure_id=alert.azure_id)
    assert push_alert_status.apply(args=[alert.pk]).get().startswith("failed")
    alert.refresh_from_db()
    assert alert.pending_failed and "404" in alert.pending_error and alert.status == "Active"
    assert AlertEvent.objects.filter(alert=alert, kind="status_failed").exists()


def test_gone_alerts_are_kept_and_marked_only_after_a_complete_listing(emulator, subs):
    sub = subs[0]
    _sync(sub)
    total = Alert.objects.filter(subscription=sub).count()
    victim = Alert.objects.filter(subscription=sub).first()
    emulator.control("DELETE", "alerts", id=victim.azure_id)  # Azure's 90-day retention dropped it
    run = _sync(sub)
    victim.refresh_from_db()
    assert run.alerts_gone == 1 and not victim.in_azure and victim.gone_at
    assert Alert.objects.filter(subscription=sub).count() == total  # nothing deleted


def test_throttling_429_is_honoured_by_the_sdk_retry(emulator, subs):
    sub = subs[0]
    emulator.fault("alerts.list", "429", times=2, retry_after=0)
    run = _sync(sub)
    assert run.status == SyncRun.Status.SUCCEEDED
    throttled = [r for r in emulator.requests() if r["status"] == 429]
    assert len(throttled) == 2


@pytest.mark.parametrize("kind", ["500", "503", "timeout"])
def test_transient_errors_retry_then_fail_cleanly_and_the_next_run_completes(emulator, subs, settings, kind):
    sub = subs[0]
    settings.ARM_RETRY_TOTAL = 2
    emulator.fault("alerts.list", kind, times=10, latency_ms=100)
    if kind == "timeout":
        from portal.arm import session

        session.READ_TIMEOUT, old = 0.5, session.READ_TIMEOUT
    try:
        with pytest.raises(sync.SyncFailed) as info:
            _sync(sub)
    finally:
        if kind == "timeout":
            session.READ_TIMEOUT = old
    assert isinstance(info.value.error, errors.ArmTransient)
    failed = SyncRun.objects.get(pk=info.value.run_id)
    assert failed.status == "failed" and failed.errors
    assert not SyncLease.objects.get(subscription=sub).holder
    emulator.control("DELETE", "faults")
    assert _sync(sub).status == "succeeded"


def test_a_retried_run_resumes_from_its_last_completed_page(emulator, subs):
    sub = subs[0]  # 250 alerts: 3 pages
    run = SyncRun.objects.create(subscription=sub, trigger="test", started_at=timezone.now(), status="failed")
    first_page = next(
        iter(sync.operations.iter_alert_pages(sync.config_for(sub.connection), sub.subscription_id))
    )
    run.resume_token = first_page.next_link
    run.save()
    emulator.clear_requests()
    resumed = _sync(sub, run_id=run.pk)
    assert resumed.pk == run.pk and resumed.status == "succeeded"
    alert_lists = [r for r in emulator.requests() if r["op"] == "alerts.list"]
    assert len(alert_lists) == 2  # pages 2 and 3 only
    assert resumed.alerts_gone == 0  # not an uninterrupted listing: nothing is marked gone


def test_malformed_element_is_kept_and_the_rest_of_the_page_saved(emulator, subs):
    sub = subs[0]
    emulator.add_alerts(sub.subscription_id, count=1, overrides={"severity": "Catastrophic"})
    run = _sync(sub)
    assert run.status == "succeeded" and run.alerts_malformed == 1
    bad = MalformedAlert.objects.get()
    assert "unknown severity" in bad.error and "Catastrophic" in bad.raw
    upstream = {
        s["subscription_id"].lower(): s["alerts"] for s in emulator.control("GET", "state")["subscriptions"]
    }
    assert run.alerts_new == upstream[sub.subscription_id] - 1


@pytest.mark.parametrize("kind", ["malformed", "truncated", "nextlink_loop"])
def test_malformed_page_fails_the_run_cleanly_and_the_next_run_starts_over(emulator, subs, kind):
    sub = subs[0]
    emulator.fault("alerts.list", kind, times=1)
    with pytest.raises(sync.SyncFailed) as info:
        _sync(sub)
    assert isinstance(info.value.error, errors.ArmMalformed)
    assert SyncRun.objects.get(pk=info.value.run_id).resume_token == ""
    run = _sync(sub)
    assert run.status == "succeeded" and Alert.objects.filter(subscription=sub).count() > 0


def test_first_401_gets_one_retry_with_a_fresh_token(emulator, subs):
    sub = subs[0]
    emulator.fault("alerts.list", "expired_token", times=1)
    assert _sync(sub).status == "succeeded"
    tokens = [r for r in emulator.requests() if r["op"] == "token"]
    assert len(tokens) >= 2  # a fresh token was obtained
    assert AzureConnection.objects.get(pk=sub.connection_id).is_healthy


def test_repeated_401_marks_the_connection_unhealthy_with_a_reason(emulator, subs):
    sub = subs[0]
    emulator.fault("alerts.list", "expired_token", times=5)
    with pytest.raises(sync.SyncFailed) as info:
        _sync(sub)
    assert isinstance(info.value.error, errors.ArmAuthError)
    conn = AzureConnection.objects.get(pk=sub.connection_id)
    assert not conn.is_healthy and "refused the credential" in conn.health_reason


def test_wrong_secret_marks_the_connection_unhealthy(emulator):
    from portal.inventory.services import connection_save

    entry = emulator.connections[0]
    conn = connection_save(
        actor=None,
        data={
            "name": "bad",
            "tenant_id": entry["tenant_id"],
            "client_id": entry["client_id"],
            "arm_endpoint": emulator.base_url,
            "authority_host": emulator.base_url,
        },
        secret="wrong-secret",
    )
    with pytest.raises(errors.ArmAuthError):
        sync.discover(conn)
    conn.refresh_from_db()
    assert not conn.is_healthy and "AADSTS7000215" in conn.health_reason


def test_a_second_worker_does_not_sync_the_same_subscription(emulator, subs):
    sub = subs[0]
    assert sync.lease_acquire(sub.pk, "other-worker")
    assert _sync(sub) is None
    assert not SyncRun.objects.filter(subscription=sub).exists()
    # an expired lease (a crashed worker) is taken over
    SyncLease.objects.filter(subscription=sub).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert _sync(sub).status == "succeeded"


def test_contacts_rules_and_plans_follow_azure(emulator, subs):
    for sub in subs:
        _sync(sub)
    assert SuppressionRule.objects.filter(in_azure=True).exists()
    kv = Pricing.objects.filter(name="KeyVaults")
    assert kv.count() == len(subs)
    assert {p.tier for p in kv} >= {"Standard", "Free"} or len(subs) == 1


def test_sync_status_page_and_sync_now_permissions(
    client, personas, django_capture_on_commit_callbacks, monkeypatch
):
    from django.urls import reverse

    from sync import tasks

    queued = []
    monkeypatch.setattr(tasks.sync_subscription, "delay", lambda *a, **kw: queued.append((a, kw)))
    SyncRun.objects.create(
        subscription=personas.sub,
        started_at=timezone.now(),
        status="failed",
        errors=["ArmTransient: 503 boom"],
    )
    sync.record_plan({}, [personas.sub.pk], at=timezone.now())  # the last round's decision is shown
    client.force_login(personas.reader)
    body = client.get(reverse("sync:sync_status")).content.decode()
    assert "503 boom" in body and "Sync now" not in body
    assert "skipped: Resource Graph saw no change" in body
    assert client.post(reverse("sync:sync_now", args=[personas.sub.pk])).status_code == 403
    client.force_login(personas.outsider)
    assert client.post(reverse("sync:sync_now", args=[personas.sub.pk])).status_code == 404
    client.force_login(personas.secadmin)
    assert "Sync now" in client.get(reverse("sync:sync_status")).content.decode()
    assert client.post(reverse("sync:sync_now", args=[personas.sub.pk])).status_code == 302
    assert queued == [((personas.sub.pk,), {"trigger": "manual:secadmin"})]
    assert client.get(reverse("sync:sync_now", args=[personas.sub.pk])).status_code == 405


def test_a_service_principal_from_the_environment(emulator, settings, monkeypatch):
    """AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (azure-identity's EnvironmentCredential)."""
    from portal.inventory.services import connection_from_environment

    assert connection_from_environment() is None
    entry = emulator.connections[0]
    settings.AZURE_TENANT_ID, settings.AZURE_CLIENT_ID = entry["tenant_id"], entry["client_id"]
    monkeypatch.setenv("AZURE_TENANT_ID", entry["tenant_id"])
    monkeypatch.setenv("AZURE_CLIENT_ID", entry["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", entry["client_secret"])
    conn = connection_from_environment()
    assert conn.auth_method == "environment" and not conn.secret_encrypted
    subscriptions = sync.discover(conn)
    delegated = {
        sid.lower() for sid in emulator.connections[1]["subscription_ids"]
    }  # Fabrikam's lab (Lighthouse)
    assert {s.subscription_id for s in subscriptions} == {
        sid.lower() for sid in entry["subscription_ids"]
    } | delegated
    assert connection_from_environment().pk == conn.pk  # idempotent


# --- one sync per subscription, however many connections see it -----------------------------------------------


@pytest.fixture
def two_connections(emulator, settings, monkeypatch):
    """The emulator's tenants as stored connections, and the first tenant's service principal from the environment
    too (AZURE_*): every subscription of that tenant is visible through two connections."""
    from portal.inventory.services import connection_from_environment

    loaded = emulator.load_connections()
    entry = emulator.connections[0]
    settings.AZURE_TENANT_ID, settings.AZURE_CLIENT_ID = entry["tenant_id"], entry["client_id"]
    monkeypatch.setenv("AZURE_TENANT_ID", entry["tenant_id"])
    monkeypatch.setenv("AZURE_CLIENT_ID", entry["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", entry["client_secret"])
    environment = connection_from_environment()
    return {
        "loaded": loaded,
        "environment": environment,
        "shared": {s.lower() for s in entry["subscription_ids"]},
    }


def test_the_command_syncs_a_subscription_seen_by_two_connections_once(two_connections, emulator):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sync_azure", stdout=out)
    runs = SyncRun.objects.all()
    per_subscription = {}
    for run in runs:
        per_subscription.setdefault(run.subscription.subscription_id, []).append(run)
    upstream = {s["subscription_id"].lower() for s in emulator.control("GET", "state")["subscriptions"]}
    assert set(per_subscription) == upstream
    assert all(len(r) == 1 for r in per_subscription.values()), per_subscription
    assert "synced once, through" in out.getvalue()
    shared = two_connections["shared"]
    for run in runs:
        assert run.alerts_new > 0  # the one run stored the alerts
        if run.subscription.subscription_id in shared:
            assert len(run.subscription.visible_through) == 2
        else:  # Fabrikam's lab: its own tenant's connection, and Contoso's twice (Lighthouse delegation)
            assert sorted(run.subscription.visible_through) == ["Contoso", "Environment", "Fabrikam"]
    # the next round keeps the connection that synced it
    owners = {r.subscription_id: r.subscription.connection_id for r in runs}
    call_command("sync_azure", stdout=StringIO())
    assert SyncRun.objects.count() == 2 * len(upstream)
    from portal.inventory.models import Subscription

    assert {s.pk: s.connection_id for s in Subscription.objects.all()} == owners


def test_the_scheduled_round_queues_each_subscription_once(two_connections, emulator, monkeypatch):
    from sync import tasks

    queued = []
    monkeypatch.setattr(tasks.sync_subscription, "delay", lambda pk, **kw: queued.append(pk))
    upstream = emulator.control("GET", "state")["subscriptions"]
    assert tasks.sync_all() == len(upstream) == len(queued) == len(set(queued))


def test_a_subscription_moves_to_another_connection_when_its_own_loses_sight_of_it(two_connections):
    from portal.inventory.models import Subscription

    found = dict(sync.discover_all())
    shared = next(s for s in found if s.subscription_id in two_connections["shared"])
    first, second = found[shared]
    assert shared.connection_id == first.pk
    AzureConnection.objects.filter(pk=first.pk).update(is_enabled=False)
    sync.discover_all()
    moved = Subscription.objects.get(pk=shared.pk)
    assert moved.connection_id == second.pk and moved.visible_through == [second.name]


def test_the_sync_status_page_says_which_connection_syncs_a_subscription(client, two_connections, personas):
    from django.urls import reverse

    from portal.accounts.models import Role
    from portal.testing.factories import grant

    sync.discover_all()
    from portal.inventory.models import Subscription

    shared = Subscription.objects.filter(subscription_id__in=two_connections["shared"]).first()
    grant(personas.reader, shared, Role.READER)
    client.force_login(personas.reader)
    body = client.get(reverse("sync:sync_status")).content.decode()
    other = next(n for n in shared.visible_through if n != shared.connection.name)
    assert f"Also visible through {other}: synced once, through {shared.connection.name}." in body


def test_a_run_records_where_its_time_went(emulator, subs):
    run = _sync(subs[0])
    stages = run.stages
    assert {"fetch", "parse", "upsert", "rollups", "incidents", "suppression", "inventory"} <= set(stages)
    for name in ("upsert", "rollups", "incidents"):
        assert stages[name]["seconds"] > 0 and stages[name]["statements"] > 0
    # each stage costs a bounded number of statements per batch, not per alert
    batches = -(-run.alerts_new // 1000)
    assert stages["incidents"]["statements"] <= 3 * batches
    assert stages["rollups"]["statements"] <= batches
    run.refresh_from_db()
    assert run.stages == stages  # kept with the run


def test_a_connection_without_its_secret_does_not_stop_the_round(two_connections):
    broken = AzureConnection.objects.create(name="aaa-no-secret", tenant_id="t", client_id="c")
    failures = []
    found = sync.discover_all(on_error=lambda conn, exc: failures.append((conn.name, str(exc))))
    assert found and failures == [("aaa-no-secret", "No client secret is configured for this connection.")]
    broken.refresh_from_db()
    assert not broken.is_healthy and "secret is not available" in broken.health_reason


def test_relative_next_links_are_resolved_against_the_arm_endpoint(emulator, subs):
    """A list page's nextLink may be path and query only (the SDK's pagers accept that): every page is still read,
    over HTTPS to the connection's ARM endpoint, and a relative resume token works too."""
    sub = subs[0]  # 250 alerts: 3 pages
    emulator.fault("*", "relative_nextlink", times=1000)
    run = _sync(sub)
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    upstream = {
        s["subscription_id"].lower(): s["alerts"] for s in emulator.control("GET", "state")["subscriptions"]
    }
    assert run.pages == 3
    assert Alert.objects.filter(subscription=sub).count() == run.alerts_new == upstream[sub.subscription_id]
    lists = [r for r in emulator.requests() if r["op"] == "alerts.list"]
    assert len(lists) == 3 and {r["fault"] for r in lists} == {"relative_nextlink"}
    # a retried run resumes from a relative token
    first_page = next(
        iter(sync.operations.iter_alert_pages(sync.config_for(sub.connection), sub.subscription_id))
    )
    assert first_page.next_link.startswith(f"/subscriptions/{sub.subscription_id}/")
    failed = SyncRun.objects.create(
        subscription=sub,
        trigger="test",
        started_at=timezone.now(),
        status="failed",
        resume_token=first_page.next_link,
    )
    emulator.clear_requests()
    resumed = _sync(sub, run_id=failed.pk)
    assert resumed.status == "succeeded" and resumed.pages == 2
    assert len([r for r in emulator.requests() if r["op"] == "alerts.list"]) == 2


def test_a_next_link_to_another_host_is_not_followed(emulator, subs):
    """The connection's token goes only to its ARM endpoint: a nextLink naming another host (here the emulator under
    another name, which would answer) fails the run as malformed instead of being requested."""
    sub = subs[0]  # 250 alerts: 3 pages
    emulator.clear_requests()
    emulator.fault("alerts.list", "foreign_nextlink", times=1)
    with pytest.raises(sync.SyncFailed) as info:
        _sync(sub)
    assert isinstance(info.value.error, errors.ArmMalformed) and "another host" in str(info.value.error)
    assert len([r for r in emulator.requests() if r["op"] == "alerts.list"]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_throttled_subscription_slows_down_and_completes_and_the_others_do_not_wait(emulator, subs):
    """ARM's bucket of one subscription made small (4 reads, refilling 2/s; a demo sync is ~9 reads): its sync meets
    429s with Retry-After, which the SDK's retry honours, and completes; another subscription synced at the same time
    through the same connection meets no 429 and finishes first."""
    import threading
    import time

    throttled, other = subs[0], next(s for s in subs[1:] if s.connection_id == subs[0].connection_id)
    emulator.control(
        "POST",
        "throttle",
        json={
            "enabled": True,
            "limits": [
                {
                    "subscription_id": throttled.subscription_id,
                    "kind": "reads",
                    "capacity": 4,
                    "refill_per_second": 2,
                }
            ],
        },
    )
    emulator.clear_requests()
    finished: dict[str, float] = {}
    started = time.monotonic()

    def run(sub):
        from django.db import connection as db

        try:
            _sync(sub)
            finished[sub.subscription_id] = time.monotonic() - started
        finally:
            db.close()

    slow = threading.Thread(target=run, args=(throttled,))
    slow.start()
    run(other)
    slow.join(timeout=120)
    assert set(finished) == {throttled.subscription_id, other.subscription_id}
    assert finished[other.subscription_id] < finished[throttled.subscription_id]
    log = emulator.requests()
    throttled_429 = [
        r for r in log if r["status"] == 429 and r["subscription_id"] == throttled.subscription_id
    ]
    assert throttled_429 and not [
        r for r in log if r["status"] == 429 and r["subscription_id"] == other.subscription_id
    ]
    for sub in (throttled, other):
        run_row = SyncRun.objects.filter(subscription=sub).latest("pk")
        assert run_row.status == "succeeded", run_row.error
    upstream = {
        s["subscription_id"].lower(): s["alerts"] for s in emulator.control("GET", "state")["subscriptions"]
    }
    assert Alert.objects.filter(subscription=throttled).count() == upstream[throttled.subscription_id]
