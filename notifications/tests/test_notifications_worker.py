"""Notifications end to end: the emulator adds an alert, Celery beat + a real worker sync it, aiosmtpd receives the
mail; and a worker killed mid-send."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification, SecurityContact
from notifications.services import send_due
from portal.testing.fixtures import ROOT, wait_for, worker_env
from sync.models import SyncRun
from sync.orchestrator import sync_subscription

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def synced(emulator):
    """A subscription synced once (its first sync is history: no mail), mailing three addresses at Medium."""
    sub = emulator.discover()[0]
    sync_subscription(sub.pk, trigger="test")
    SecurityContact.objects.filter(subscription=sub).update(
        emails="a@soc.example;b@soc.example;c@soc.example",
        minimal_severity="Medium",
        notify_by_role=False,
        portal_notifications=True,
        pending_push=False,
    )
    return sub


def test_a_new_alert_reaches_each_mailbox_within_the_sync_interval(
    celery_worker, emulator, synced, smtp_server, tmp_path, settings
):
    interval = 3
    env = worker_env(
        {
            "SYNC_INTERVAL_SECONDS": str(interval),
            "PORTAL_VAR_DIR": str(tmp_path),
            "EMAIL_URL": smtp_server.url,
            "PORTAL_BASE_URL": "https://kv.example",
        }
    )
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = time.monotonic()
        ids = emulator.add_alerts(
            synced.subscription_id, count=1, alert_type="KV_SuspiciousIPAccess", severity="Medium"
        )
        wait_for(
            lambda: len(smtp_server.messages) >= 3,
            timeout=interval + 10,
            what=f"three mails within the sync interval + 10 s\n{celery_worker.logs()}",
        )
        elapsed = time.monotonic() - started
    finally:
        beat.terminate()
        beat.wait(timeout=15)
    assert elapsed <= interval + 10
    time.sleep(0.5)  # anything extra would arrive now
    assert sorted(m["rcpt"][0] for m in smtp_server.messages) == [
        "a@soc.example",
        "b@soc.example",
        "c@soc.example",
    ]
    from alerts.models import Alert

    alert = Alert.objects.get(arm_id=ids[0].lower())
    for m in smtp_server.messages:
        assert f"/alerts/{alert.pk}/" in m["message"].get_body(("plain",)).get_content()
    assert SyncRun.objects.filter(subscription=synced, trigger="schedule", status="succeeded").exists()


def test_worker_killed_mid_send_loses_nothing_and_duplicates_share_a_message_id(
    celery_worker, emulator, synced, smtp_server
):
    addresses = [f"r{i}@soc.example" for i in range(12)]
    SecurityContact.objects.filter(subscription=synced).update(emails=";".join(addresses))
    emulator.add_alerts(synced.subscription_id, count=1, alert_type="KV_TORAccess", severity="Medium")
    sync_subscription(synced.pk, trigger="test")  # queues notify_new_alerts for the worker, after commit
    smtp_server.delay = 0.4
    wait_for(lambda: len(smtp_server.messages) >= 3, timeout=30, what=f"some mails\n{celery_worker.logs()}")
    celery_worker.stop(kill=True)  # SIGKILL between SMTP acceptances and the log's commits
    smtp_server.delay = 0.0
    got_before = len(smtp_server.messages)
    assert got_before < len(addresses), "the worker finished before it was killed: slow the SMTP server down"
    celery_worker.start()
    # the stuck rows are resent (same Message-ID) by the periodic task once they are old enough
    send_due(now=timezone.now() + timedelta(minutes=6))
    by_recipient = defaultdict(set)
    for m in smtp_server.messages:
        by_recipient[m["rcpt"][0]].add(m["message"]["Message-ID"])
    assert sorted(by_recipient) == sorted(addresses)  # none is missing
    assert all(len(v) == 1 for v in by_recipient.values())  # one distinct Message-ID per (alert, recipient)
    rows = Notification.objects.filter(kind="alert")
    assert rows.count() == len(addresses) and set(rows.values_list("state", flat=True)) == {"sent"}
