"""Alert suppression rules: matching, the form (portal and admin), Simulate, applying on sync, the Azure round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from portal.audit.models import AuditRecord
from portal.testing.factories import alert_item, make_alerts, make_vault
from suppression.models import SuppressedAlert, SuppressionRule
from suppression.rules import rule_matches
from suppression.services import apply_rules_to_alerts, expire_rules, rule_save, simulate
from suppression.tasks import delete_rule_in_azure, push_rule
from sync.orchestrator import sync_subscription

pytestmark = pytest.mark.django_db

ENTITIES = [
    {"$id": "1", "Address": "203.0.113.7", "Type": "ip"},
    {"$id": "2", "name": "Alice", "upnSuffix": "Contoso.com", "aadUserId": "OID-1", "type": "account"},
    {"$id": "3", "appId": "APP-9", "name": "Backup agent", "type": "cloud-application"},
    {
        "$id": "4",
        "resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-pay",
        "type": "azure-resource",
    },
]


def rule(**kw):
    defaults = {"alert_type": "KV_TORAccess", "state": "Enabled", "conditions": []}
    return SuppressionRule(**{**defaults, **kw})


@pytest.mark.parametrize(
    ("conditions", "alert_type", "matches"),
    [
        ([{"field": "entities.ip.address", "in": ["203.0.113.7"]}], "KV_TORAccess", True),
        ([{"field": "entities.ip.address", "in": ["203.0.113.8", "203.0.113.7"]}], "KV_TORAccess", True),
        ([{"field": "entities.ip.address", "in": ["203.0.113.70"]}], "KV_TORAccess", False),
        ([{"field": "entities.ip.address", "contains": "203.0.113"}], "KV_TORAccess", True),
        ([{"field": "entities.account.name", "in": ["ALICE"]}], "KV_TORAccess", True),  # case-insensitive
        ([{"field": "entities.account.upnsuffix", "in": ["contoso.com"]}], "KV_TORAccess", True),
        ([{"field": "entities.account.upn", "in": ["alice@contoso.com"]}], "KV_TORAccess", True),
        ([{"field": "entities.account.objectid", "in": ["oid-1"]}], "KV_TORAccess", True),
        ([{"field": "entities.cloudapplication.appid", "in": ["app-9"]}], "KV_TORAccess", True),
        ([{"field": "entities.azureresource.resourceid", "contains": "kv-pay"}], "KV_TORAccess", True),
        (
            [
                {"field": "entities.ip.address", "in": ["203.0.113.7"]},
                {"field": "entities.account.name", "in": ["bob"]},
            ],
            "KV_TORAccess",
            False,
        ),  # all must match
        ([{"field": "entities.host.hostname", "in": ["x"]}], "KV_TORAccess", False),  # no such entity
        ([], "KV_AppAnomaly", False),  # another type
    ],
)
def test_matching_semantics(conditions, alert_type, matches):
    assert rule_matches(rule(conditions=conditions), alert_type, ENTITIES) is matches


def test_star_expiry_and_state():
    now = timezone.now()
    assert rule_matches(rule(alert_type="*"), "ANYTHING", ENTITIES)
    assert not rule_matches(
        rule(expiration_date=now - timedelta(seconds=1)), "KV_TORAccess", ENTITIES, now=now
    )
    assert rule_matches(rule(expiration_date=now + timedelta(days=1)), "KV_TORAccess", ENTITIES, now=now)
    assert not rule_matches(rule(state="Disabled"), "KV_TORAccess", ENTITIES)
    assert not rule_matches(rule(state="Expired"), "KV_TORAccess", ENTITIES)


def _post(client, **overrides):
    data = {
        "subscription": "",
        "name": "ci-noise",
        "alert_type": "KV_TORAccess",
        "state": "Enabled",
        "reason": "FalsePositive",
        "comment": "",
        "expiration_date": "",
        "c0_field": "entities.ip.address",
        "c0_op": "equals",
        "c0_value": "203.0.113.7",
        "action": "save",
    }
    data.update(overrides)
    return client.post(reverse("suppression:rule_create"), data)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"name": "-bad"}, "starting with a letter or a digit"),
        ({"name": "a"}, "2–50 characters"),
        ({"name": "has space"}, "2–50 characters"),
        ({"c0_field": "entities.spaceship.name"}, "Select a valid choice"),
        ({"c0_value": ""}, "Give a value."),
        ({"expiration_date": "2001-01-01"}, "must be in the future"),
        ({"reason": "Other"}, "Explain the reason in the comment"),
        ({"reason": ""}, "Choose a reason"),
    ],
)
def test_invalid_rules_get_clear_errors_and_nothing_is_saved(client, personas, overrides, error):
    client.force_login(personas.secadmin)
    response = _post(client, subscription=str(personas.sub.pk), **overrides)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SuppressionRule.objects.exists()


def test_only_security_admins_manage_rules(client, personas, django_capture_on_commit_callbacks):
    client.force_login(personas.reader)
    assert _post(client, subscription=str(personas.sub.pk)).status_code in (400, 403)
    assert client.get(reverse("suppression:rule_create")).status_code == 403
    client.force_login(personas.outsider)
    response = _post(client, subscription=str(personas.sub.pk))
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not SuppressionRule.objects.exists()
    client.force_login(personas.secadmin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, subscription=str(personas.sub.pk))
    saved = SuppressionRule.objects.get()
    assert response.status_code == 302 and saved.push_state == "pending" and len(callbacks) == 1
    assert AuditRecord.objects.filter(action="rule.create", actor=personas.secadmin).exists()
    client.force_login(personas.reader)
    listing = client.get(reverse("suppression:rules")).content.decode()
    assert "ci-noise" in listing  # readers see rules
    assert "IP address" in listing and ">entities.ip.address<" not in listing  # people's words, code on hover
    assert client.post(reverse("suppression:rule_delete", args=[saved.pk])).status_code == 403
    client.force_login(personas.outsider)
    assert client.get(reverse("suppression:rule_edit", args=[saved.pk])).status_code == 404


def test_warnings_for_broad_rules_and_local_only_fields(client, personas):
    client.force_login(personas.secadmin)
    response = client.post(
        reverse("suppression:rule_create"),
        {
            "subscription": personas.sub.pk,
            "name": "broad",
            "alert_type": "*",
            "state": "Enabled",
            "reason": "Noise",
            "c0_field": "entities.account.upn",
            "c0_op": "equals",
            "c0_value": "a@b.c",
            "action": "simulate",
        },
    )
    body = response.content.decode()
    assert "every alert type (*)" in body and "never expires" in body and "local-only" in body
    assert not SuppressionRule.objects.exists()  # Simulate saves nothing


def test_prefilled_form_from_an_alert(client, personas):
    vault = make_vault(personas.sub)
    alert = make_alerts(
        personas.sub, [alert_item(personas.sub, vault=vault, user="mallory", ip="198.51.100.9")]
    )[0]
    client.force_login(personas.secadmin)
    body = client.get(reverse("suppression:rule_create") + f"?from_alert={alert.pk}").content.decode()
    assert 'value="KV_TORAccess" selected' in body
    assert f'value="{personas.sub.pk}" selected' in body
    detail = client.get(reverse("alerts:detail", args=[alert.pk]) + "?tab=action").content.decode()
    assert f"{reverse('suppression:rule_create')}?from_alert={alert.pk}" in detail


def test_suppress_similar_prefills_only_what_azure_accepts(
    client, personas, django_capture_on_commit_callbacks
):
    """The pre-filled rule is created in Azure as it stands: the account by name and UPN suffix (Azure knows no
    UPN field), the IP, a reason; the application id is an opt-in, with its consequence stated before Save."""
    vault = make_vault(personas.sub)
    item = alert_item(personas.sub, vault=vault, user="mallory", ip="198.51.100.9")
    item["properties"]["entities"].append(
        {
            "$id": "9",
            "appId": "11111111-2222-3333-4444-555555555555",
            "name": "payments-api",
            "type": "cloud-application",
        }
    )
    alert = make_alerts(personas.sub, [item])[0]
    client.force_login(personas.secadmin)
    url = reverse("suppression:rule_create") + f"?from_alert={alert.pk}"
    page = client.get(url)
    form = page.context["form"]
    prefilled = {
        (form.initial.get(f"c{i}_field"), form.initial.get(f"c{i}_value"))
        for i in range(5)
        if form.initial.get(f"c{i}_field")
    }
    assert prefilled == {
        ("entities.account.name", "mallory"),
        ("entities.account.upnsuffix", "contoso.com"),
        ("entities.ip.address", "198.51.100.9"),
    }
    assert form.initial["reason"] == "SpecificEntityFalsePositive"
    body = page.content.decode()
    assert "Application ID = 11111111-2222-3333-4444-555555555555 (payments-api)" in body
    assert "Ticking one keeps this rule in this portal only" in body
    post = {k: v for k, v in form.initial.items() if v is not None}
    post.update({"action": "save", "name": "suppress-mallory"})
    with django_capture_on_commit_callbacks(execute=False):
        client.post(url, post)
    rule = SuppressionRule.objects.get(name="suppress-mallory")
    assert not rule.local_only and rule.push_state == "pending"  # on its way to Azure
    # opting in to the application id: kept in the portal only, as the form said
    post.update(
        {
            "name": "suppress-mallory-app",
            "portal_only": ["entities.cloudapplication.appid|11111111-2222-3333-4444-555555555555"],
        }
    )
    with django_capture_on_commit_callbacks(execute=False):
        client.post(url, post)
    local = SuppressionRule.objects.get(name="suppress-mallory-app")
    assert (
        local.local_only
        and {"field": "entities.cloudapplication.appid", "in": ["11111111-2222-3333-4444-555555555555"]}
        in local.conditions
    )


def test_simulate_counts_on_a_known_data_set(personas):
    items = [alert_item(personas.sub, n=800 + i, ip="10.0.0.1" if i < 3 else "10.0.0.2") for i in range(5)]
    items.append(alert_item(personas.sub, n=900, ip="10.0.0.1", alertType="KV_AppAnomaly"))
    items.append(alert_item(personas.sub, n=901, ip="10.0.0.1", when=timezone.now() - timedelta(days=100)))
    make_alerts(personas.sub, items)
    result = simulate(
        subscription=personas.sub,
        alert_type="KV_TORAccess",
        conditions=[{"field": "entities.ip.address", "in": ["10.0.0.1"]}],
    )
    assert (result.matched, result.scanned, len(result.sample)) == (3, 5, 3)
    assert (
        simulate(
            subscription=personas.sub,
            alert_type="*",
            conditions=[{"field": "entities.ip.address", "in": ["10.0.0.1"]}],
        ).matched
        == 4
    )


def test_rules_dismiss_new_alerts_with_a_bounded_number_of_queries(personas, django_assert_max_num_queries):
    for i in range(20):
        SuppressionRule.objects.create(
            subscription=personas.sub,
            name=f"rule-{i}",
            alert_type="KV_TORAccess",
            reason="Noise",
            conditions=[{"field": "entities.ip.address", "in": [f"10.9.9.{i}"]}],
        )
    items = [alert_item(personas.sub, n=1000 + i, ip=f"10.9.9.{i % 40}") for i in range(100)]
    from alerts.sync import upsert_page

    result = upsert_page(
        subscription_pk=personas.sub.pk,
        subscription_id=personas.sub.subscription_id,
        items=items,
        vault_index={},
        now=timezone.now(),
    )
    # the rules, the alerts (locked), the links, the rules' counts; then the status's write path: the alerts
    # (locked), their update, events, audit entries, rollups, the webhooks that want status changes
    with django_assert_max_num_queries(12):
        applied = apply_rules_to_alerts(alert_ids=result.new_ids, subscription_pk=personas.sub.pk)
    assert len(applied.suppressed) == 60  # IPs 10.9.9.0-19, three alerts each
    dismissed = Alert.objects.filter(suppression__isnull=False)
    assert dismissed.count() == 60 and set(dismissed.values_list("status", flat=True)) == {"Dismissed"}
    assert set(dismissed.values_list("pending_status", flat=True)) == {"Dismissed"}  # written back to Azure
    assert AlertEvent.objects.filter(kind="suppressed").count() == 60
    assert SuppressionRule.objects.get(name="rule-0").suppressed_count == 3


def test_expired_rules_become_expired(personas):
    old = SuppressionRule.objects.create(
        subscription=personas.sub,
        name="old",
        alert_type="*",
        reason="Noise",
        expiration_date=timezone.now() - timedelta(minutes=1),
    )
    assert expire_rules() == 1
    old.refresh_from_db()
    assert old.state == "Expired"


def test_apply_to_open_alerts_shows_the_count_then_deleting_does_not_reactivate(
    client, personas, django_capture_on_commit_callbacks
):
    alerts = make_alerts(
        personas.sub, [alert_item(personas.sub, n=1200 + i, ip="10.1.1.1") for i in range(3)]
    )
    client.force_login(personas.secadmin)
    with django_capture_on_commit_callbacks(execute=False):
        rule_obj = rule_save(
            user=personas.secadmin,
            subscription=personas.sub,
            data={
                "name": "retro",
                "alert_type": "KV_TORAccess",
                "reason": "Noise",
                "state": "Enabled",
                "conditions": [{"field": "entities.ip.address", "in": ["10.1.1.1"]}],
                "local_only": True,
            },
        )
    page = client.get(reverse("suppression:rule_edit", args=[rule_obj.pk])).content.decode()
    assert "Apply to 3 open alerts" in page
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("suppression:rule_apply", args=[rule_obj.pk]))
    assert Alert.objects.filter(pk__in=[a.pk for a in alerts], status="Dismissed").count() == 3
    client.post(reverse("suppression:rule_delete", args=[rule_obj.pk]))
    assert not SuppressionRule.objects.exists()
    assert Alert.objects.filter(pk__in=[a.pk for a in alerts], status="Dismissed").count() == 3


def test_admin_saves_through_the_service(client, personas, django_capture_on_commit_callbacks):
    client.force_login(personas.secadmin)
    form = client.get(reverse("admin:suppression_suppressionrule_add")).content.decode()
    # the alert types from the catalog, by name, in a select (not a free-text box)
    assert '<select name="alert_type"' in form
    assert (
        '<option value="KV_TORAccess">Access from a TOR exit node to a key vault (KV_TORAccess)</option>'
        in form
    )
    data = {
        "subscription": personas.sub.pk,
        "name": "from-admin",
        "alert_type": "KV_TORAccess",
        "state": "Enabled",
        "reason": "Noise",
        "comment": "",
        "expiration_date": "",
        "c0_field": "entities.ip.address",
        "c0_op": "equals",
        "c0_value": "10.2.2.2",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("admin:suppression_suppressionrule_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = SuppressionRule.objects.get(name="from-admin")
    assert saved.conditions == [{"field": "entities.ip.address", "in": ["10.2.2.2"]}] and len(callbacks) == 1
    assert AuditRecord.objects.filter(action="rule.create").exists()
    bad = client.post(reverse("admin:suppression_suppressionrule_add"), {**data, "name": "x y"})
    assert bad.status_code == 200 and "2–50 characters" in bad.content.decode()
    response = client.post(
        reverse("admin:suppression_suppressionrule_changelist"),
        {"action": "disable_rules", "_selected_action": [saved.pk]},
    )
    saved.refresh_from_db()
    assert saved.state == "Disabled"
    client.force_login(personas.outsider)
    assert client.get(reverse("admin:suppression_suppressionrule_change", args=[saved.pk])).status_code in (
        302,
        404,
    )


# --- with the emulator --------------------------------------------------------------------------------------------


@pytest.fixture
def synced(emulator):
    subs = emulator.discover()
    counts = {
        s["subscription_id"].lower(): s["suppression_rules"]
        for s in emulator.control("GET", "state")["subscriptions"]
    }
    sub = max(subs, key=lambda s: counts[s.subscription_id])
    sync_subscription(sub.pk, trigger="test")
    return sub


def test_rules_created_in_azure_appear_here(emulator, synced):
    rules = SuppressionRule.objects.filter(subscription=synced)
    assert rules.count() >= 2 and all(r.in_azure for r in rules)
    assert {r.state for r in rules} >= {"Enabled", "Disabled"}


def test_a_rule_made_here_is_created_in_azure_then_deleted(
    emulator, synced, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        made = rule_save(
            user=None,
            subscription=synced,
            data={
                "name": "portal-made",
                "alert_type": "KV_AppAnomaly",
                "reason": "Noise",
                "state": "Enabled",
                "comment": "from the portal",
                "expiration_date": timezone.now() + timedelta(days=30),
                "conditions": [{"field": "entities.ip.address", "in": ["10.3.3.3"]}],
            },
        )
    assert push_rule.apply(args=[made.pk]).get() == "in step"
    made.refresh_from_db()
    assert made.in_azure and made.push_state == "" and made.synced_at
    puts = [
        r
        for r in emulator.requests()
        if r["method"] == "PUT" and "alertsSuppressionRules/portal-made" in r["path"]
    ]
    assert puts and puts[-1]["status"] == 200
    # a second sync: in step, nothing changes
    sync_subscription(synced.pk, trigger="test")
    assert SuppressionRule.objects.get(pk=made.pk).comment == "from the portal"
    assert delete_rule_in_azure.apply(args=[synced.pk, "portal-made"]).get() == "deleted"
    deletes = [r for r in emulator.requests() if r["method"] == "DELETE"]
    assert deletes[-1]["status"] == 204


def test_new_alerts_matching_a_rule_are_dismissed_on_sync(
    emulator, synced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        rule_save(
            user=None,
            subscription=synced,
            data={
                "name": "local-noise",
                "alert_type": "KV_SuspiciousIPAccess",
                "reason": "Noise",
                "state": "Enabled",
                "conditions": [{"field": "entities.ip.address", "contains": "."}],
                "local_only": True,
            },
        )
    emulator.add_alerts(synced.subscription_id, count=2, alert_type="KV_SuspiciousIPAccess")
    emulator.add_alerts(synced.subscription_id, count=1, alert_type="KV_AppAnomaly")
    with django_capture_on_commit_callbacks(execute=False):
        sync_subscription(synced.pk, trigger="test")
    suppressed = Alert.objects.filter(suppression__rule__name="local-noise")
    assert suppressed.count() == 2 and set(suppressed.values_list("status", flat=True)) == {"Dismissed"}
    newest = Alert.objects.filter(subscription=synced, alert_type="KV_AppAnomaly").order_by("-id").first()
    assert not SuppressedAlert.objects.filter(alert=newest).exists() and newest.status == "Active"


def test_conflict_goes_to_the_side_modified_last(emulator, synced, django_capture_on_commit_callbacks):
    rule_obj = SuppressionRule.objects.filter(subscription=synced, state="Enabled").first()
    # changed in Azure after our last sync, not here: Azure wins
    body = {
        "properties": {
            "alertType": rule_obj.alert_type,
            "reason": "Noise",
            "state": "Enabled",
            "comment": "edited in Azure",
            "suppressionAlertsScope": {"allOf": rule_obj.conditions},
        }
    }
    from portal.arm import operations
    from portal.inventory.azure import config_for

    operations.put_suppression_rule(
        config_for(synced.connection), synced.subscription_id, rule_obj.name, body["properties"]
    )
    sync_subscription(synced.pk, trigger="test")
    rule_obj.refresh_from_db()
    assert rule_obj.comment == "edited in Azure"
    # changed here after the sync (and later than Azure): the portal wins and pushes
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        SuppressionRule.objects.filter(pk=rule_obj.pk).update(
            comment="edited here", local_modified_at=timezone.now() + timedelta(seconds=5)
        )
        operations.put_suppression_rule(
            config_for(synced.connection),
            synced.subscription_id,
            rule_obj.name,
            {**body["properties"], "comment": "edited in Azure again"},
        )
        sync_subscription(synced.pk, trigger="test")
    rule_obj.refresh_from_db()
    assert rule_obj.comment == "edited here" and len(callbacks) >= 1
    assert AuditRecord.objects.filter(action="rule.conflict").count() >= 1


def test_a_feedback_suggestion_opens_the_rule_form_prefilled(client, personas):
    client.force_login(personas.secadmin)
    url = (
        reverse("suppression:rule_create") + f"?subscription={personas.sub.pk}&alert_type=KV_AppAnomaly"
        "&field=entities.account.upn&value=svc%40contoso.com&reason=SpecificEntityFalsePositive"
    )
    body = client.get(url).content.decode()
    assert 'value="KV_AppAnomaly" selected' in body and 'value="SpecificEntityFalsePositive" selected' in body
    assert 'value="entities.account.upn" selected' in body and "svc@contoso.com" in body
