"""Every analyst and admin action leaves an audit record: who, when, what, from where; read-only; exportable."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from portal.api.models import ApiToken
from portal.audit.models import AuditRecord
from portal.testing.factories import alert_item, make_alerts, make_user
from pricing.models import Pricing
from suppression.models import SuppressionRule

pytestmark = pytest.mark.django_db
WHERE = "198.51.100.23"


def test_actions_are_audited_with_who_when_what_where_and_exported(
    client, personas, django_capture_on_commit_callbacks
):
    p = personas
    alerts = make_alerts(p.sub, [alert_item(p.sub, n=i) for i in (1, 2, 3)])
    Pricing.objects.create(subscription=p.sub, name="KeyVaults", tier="Free")
    make_user("newcomer")
    client.force_login(p.owner)
    env = {"REMOTE_ADDR": WHERE}
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("alerts:status", args=[alerts[0].pk]), {"status": "InProgress"}, **env)
        client.post(
            reverse("alerts:bulk"),
            {"ids": [alerts[1].pk], "to": "Dismissed", "classification": "BenignPositive"},
            **env,
        )
        client.post(reverse("alerts:bulk_all") + "?status=Active", {"to": "InProgress"}, **env)
        client.post(
            reverse("suppression:rule_create"),
            {
                "subscription": p.sub.pk,
                "name": "audited-rule",
                "alert_type": "KV_TORAccess",
                "reason": "Other",
                "comment": "audit",
                "state": "Enabled",
                "local_only": "on",
            },
            **env,
        )
        client.post(reverse("pricing:plans", args=[p.sub.pk]), {"plan-KeyVaults": "on"}, **env)
        client.post(
            reverse("notifications:email_settings_edit", args=[p.sub.pk]),
            {
                "emails": "soc@contoso.com",
                "minimal_severity": "Medium",
                "alert_notifications": "on",
                "portal_notifications": "on",
            },
            **env,
        )
        client.post(
            reverse("web:subscription_access", args=[p.sub.pk]),
            {"principal_type": "user", "username": "newcomer", "role": "reader"},
            **env,
        )
        client.post(reverse("api:tokens_page"), {"name": "audited"}, **env)
        client.post(reverse("api:token_revoke_page", args=[ApiToken.objects.get(name="audited").pk]), **env)
    expected = {
        "alert.set_status",
        "alert.bulk_status",
        "plan.set_tier",
        "contact.update",
        "role.grant",
        "api_token.create",
        "api_token.revoke",
    }
    mine = AuditRecord.objects.filter(actor=p.owner)
    actions = set(mine.values_list("action", flat=True))
    assert expected <= actions, expected - actions
    assert SuppressionRule.objects.filter(name="audited-rule").exists() and "rule.create" in actions
    for record in mine:
        assert record.ip_address == WHERE and record.created_at is not None and record.actor_label == "owner"
    # read-only, exportable (an administrator sees every record; an Owner, their subscriptions' records)
    client.force_login(p.superuser)
    record = mine.first()
    assert (
        client.post(reverse("admin:audit_auditrecord_delete", args=[record.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert client.get(reverse("admin:audit_auditrecord_change", args=[record.pk])).status_code == 200
    response = client.post(
        reverse("admin:audit_auditrecord_changelist"),
        {"action": "export_csv", "_selected_action": list(mine.values_list("pk", flat=True))},
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "created_at" and len(rows) == mine.count() + 1
    assert {r[rows[0].index("action")] for r in rows[1:]} >= expected
    assert all(WHERE in r for r in rows[1:])
