"""An alert's status has one write path (alerts.status): each source records its event, audit entry and webhook by
the module's rule, a change of many alerts costs a fixed number of statements, and a push queued after one that
failed for good starts afresh (retried in full, requeued by the sweep)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from alerts.status import (
    Source,
    alert_status_attempt_failed,
    alerts_set_status,
    requeue_stale_pushes,
)
from portal.audit.models import AuditRecord
from portal.testing.factories import alert_item, make_alerts
from suppression.models import SuppressionRule
from suppression.services import apply_rules_to_alerts
from triage import webhooks
from triage.models import WebhookDelivery


@pytest.fixture
def status_hook(personas):
    hook, _secret = webhooks.webhook_save(
        user=personas.owner,
        subscription=personas.sub,
        name="SIEM",
        url="https://siem.example/hook",
        events=["alert.status_changed"],
    )
    return hook


def _fail_for_good(alert: Alert, personas) -> Alert:
    """An analyst's change whose push Azure refused for good: the alert shows Azure's status again."""
    alerts_set_status(actor=personas.owner, alert_ids=[alert.pk], status="InProgress", source=Source.PORTAL)
    for _ in range(3):
        alert_status_attempt_failed(
            alert_pk=alert.pk, status="InProgress", error="Azure said 503", final=False
        )
    alert_status_attempt_failed(alert_pk=alert.pk, status="InProgress", error="Azure said 403", final=True)
    return Alert.objects.get(pk=alert.pk)


def test_a_bulk_change_costs_the_same_statements_for_50_or_500_alerts(personas, status_hook):
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, n=5000 + i) for i in range(550)])
    counts = []
    for chunk in (alerts[:50], alerts[50:]):
        with CaptureQueriesContext(connection) as queries:
            result = alerts_set_status(
                actor=personas.owner,
                alert_ids=[a.pk for a in chunk],
                status="InProgress",
                source=Source.BULK,
            )
        assert len(result.changed) == len(chunk)
        counts.append(len(queries))
    # the roles, the locked read, the UPDATE, events, audit entries, rollups, webhooks (read, subscriptions, insert)
    assert counts[0] == counts[1] and counts[1] <= 16, counts
    assert Alert.objects.filter(status="InProgress", pending_status="InProgress").count() == 550
    assert AuditRecord.objects.filter(action="alert.set_status").count() == 550
    assert WebhookDelivery.objects.filter(event="alert.status_changed").count() == 550
    assert AlertEvent.objects.filter(kind="status_requested").count() == 550


def test_a_push_that_fails_for_good_is_audited_and_announced(personas, status_hook):
    (alert,) = make_alerts(personas.sub, [alert_item(personas.sub, n=6001)])
    alert = _fail_for_good(alert, personas)
    assert (alert.status, alert.pending_status, alert.pending_failed) == ("Active", "", True)
    assert alert.pending_error == "Azure said 403"
    failed = AuditRecord.objects.get(action="alert.status_push_failed")
    assert failed.object_id == str(alert.pk) and failed.after["status"] == "Active"
    payloads = [
        d.payload for d in WebhookDelivery.objects.filter(event="alert.status_changed").order_by("pk")
    ]
    assert [(p["from"], p["to"]) for p in payloads] == [("Active", "InProgress"), ("InProgress", "Active")]
    assert AlertEvent.objects.filter(alert=alert, kind="status_failed").count() == 1


def test_a_rule_after_a_failed_push_starts_the_push_afresh(personas, status_hook):
    """At d4054a3 the suppression path kept pending_attempts, pending_error and pending_failed: the sweep skipped the
    new push, and the task gave up at its first transient error. It also wrote no audit entry and no webhook."""
    (alert,) = make_alerts(personas.sub, [alert_item(personas.sub, n=6002, ip="10.7.7.7")])
    _fail_for_good(alert, personas)
    rule = SuppressionRule.objects.create(
        subscription=personas.sub,
        name="tor-noise",
        alert_type="KV_TORAccess",
        reason="Noise",
        conditions=[{"field": "entities.ip.address", "in": ["10.7.7.7"]}],
    )
    applied = apply_rules_to_alerts(alert_ids=[alert.pk], subscription_pk=personas.sub.pk)
    assert applied.suppressed == [alert.pk]
    alert = Alert.objects.get(pk=alert.pk)
    assert (alert.status, alert.pending_status) == ("Dismissed", "Dismissed")
    assert (alert.pending_attempts, alert.pending_error, alert.pending_failed) == (0, "", False)
    audit = AuditRecord.objects.filter(action="alert.set_status", object_id=str(alert.pk)).latest("pk")
    assert audit.after["source"] == "rule" and audit.after["rule"] == rule.name
    assert audit.actor_label == "suppression rule"
    last = WebhookDelivery.objects.filter(event="alert.status_changed").latest("pk").payload
    assert (last["from"], last["to"], last["source"]) == ("Active", "Dismissed", "rule")
    assert AlertEvent.objects.filter(alert=alert, kind="suppressed").count() == 1
    # the push's message is lost: the sweep queues it again (it skipped alerts marked failed before)
    Alert.objects.filter(pk=alert.pk).update(pending_since=timezone.now() - timedelta(hours=1))
    assert requeue_stale_pushes(timezone.now(), timezone.now() - timedelta(minutes=10)) == 1


def test_azure_following_is_announced_but_not_audited(personas, status_hook):
    """The sync reads another status from Azure (nothing pending here): the portal follows, with an activity event
    and the webhook; the audit log is for what the portal did."""
    item = alert_item(personas.sub, n=6003)
    (alert,) = make_alerts(personas.sub, [item])
    item["properties"]["status"] = "Resolved"
    make_alerts(personas.sub, [item])
    alert = Alert.objects.get(pk=alert.pk)
    assert alert.status == "Resolved"
    assert AlertEvent.objects.filter(alert=alert, kind="status_upstream").count() == 1
    assert not AuditRecord.objects.filter(action__startswith="alert.").exists()
    (delivery,) = WebhookDelivery.objects.filter(event="alert.status_changed")
    assert (delivery.payload["from"], delivery.payload["to"], delivery.payload["source"]) == (
        "Active",
        "Resolved",
        "azure",
    )


def test_a_read_only_role_changes_nothing(personas):
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, n=6100 + i) for i in range(3)])
    result = alerts_set_status(
        actor=personas.reader, alert_ids=[a.pk for a in alerts], status="InProgress", source=Source.BULK
    )
    assert (result.changed, result.refused) == ([], 3)
    assert not Alert.objects.filter(status="InProgress").exists()
