"""Pricing & settings and the vault's Security page (Try it free → Upgrade), against the emulator."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from alerts.models import Alert
from portal.accounts.models import Role
from portal.audit.models import AuditRecord
from portal.inventory.models import KeyVault
from portal.testing.factories import grant, make_user
from pricing.models import Pricing
from pricing.tasks import push_pricing
from sync.orchestrator import sync_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(emulator):
    subs = emulator.discover()
    for sub in subs:
        sync_subscription(sub.pk, trigger="test")
    users = {role: make_user(role) for role in ("owner", "secadmin", "reader", "outsider")}
    for sub in subs:
        grant(users["owner"], sub, Role.OWNER)
        grant(users["secadmin"], sub, Role.SECURITY_ADMIN)
        grant(users["reader"], sub, Role.READER)
    kv_off = next(s for s in subs if Pricing.objects.get(subscription=s, name="KeyVaults").tier == "Free")
    return {"subs": subs, "users": users, "kv_off": kv_off}


def _upstream(emulator, sub, name="KeyVaults"):
    state = emulator.control("GET", "state")
    return next(s for s in state["subscriptions"] if s["subscription_id"].lower() == sub.subscription_id)[
        "pricings"
    ][name]


def _push_all():
    for pricing in Pricing.objects.exclude(pending_tier=""):
        push_pricing.apply(args=[pricing.pk])


def test_plans_table(client, world):
    sub = world["kv_off"]
    client.force_login(world["users"]["reader"])
    response = client.get(reverse("pricing:plans", args=[sub.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    for label in ("Servers", "Key Vault", "Storage", "Kubernetes", "Defender CSPM", "Resource Manager"):
        assert f">{label}" in body, label
    assert "Replaced by Containers" in body and "deprecated" in body
    vaults = KeyVault.objects.filter(subscription=sub).count()
    assert f"{vaults} key vaults" in body
    assert "Only Security Admins and Owners of this subscription can change its plans" in body
    assert "30-day trial available" in body
    listing = client.get(reverse("pricing:subscriptions")).content.decode()
    assert "Azure Defender:" in listing and "plans on" in listing


def test_permission_matrix(client, world):
    sub = world["kv_off"]
    url = reverse("pricing:plans", args=[sub.pk])
    expected = {"reader": 403, "outsider": 404, "secadmin": 302, "owner": 302}
    for role, status in expected.items():
        client.force_login(world["users"][role])
        assert client.post(url, {"plan-KeyVaults": "on"}).status_code == status, role
    client.logout()
    assert client.post(url, {"plan-KeyVaults": "on"}).status_code == 302  # to sign-in
    assert client.put(url).status_code in (302, 405)


def test_save_writes_only_the_changed_plan_then_confirms(
    client, world, emulator, django_capture_on_commit_callbacks
):
    sub = world["kv_off"]
    client.force_login(world["users"]["secadmin"])
    current_on = {p.name for p in Pricing.objects.filter(subscription=sub, tier="Standard")}
    data = {f"plan-{name}": "on" for name in current_on | {"KeyVaults"}}
    emulator.clear_requests()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("pricing:plans", args=[sub.pk]), data, follow=True)
    assert "Saving Key Vault to Azure" in response.content.decode()
    assert len(callbacks) == 1  # one plan changed, one write
    kv = Pricing.objects.get(subscription=sub, name="KeyVaults")
    assert kv.pending_tier == "Standard" and kv.pending_sub_plan == "PerKeyVault" and kv.tier == "Free"
    assert "saving to Azure" in client.get(reverse("pricing:plans", args=[sub.pk])).content.decode()
    _push_all()
    kv.refresh_from_db()
    assert kv.tier == "Standard" and kv.sub_plan == "PerKeyVault" and not kv.pending_tier
    assert kv.free_trial_remaining and kv.free_trial_remaining.days >= 29 and kv.enablement_time
    assert _upstream(emulator, sub) == "Standard"
    puts = [r for r in emulator.requests() if r["method"] == "PUT"]
    assert len(puts) == 1 and puts[0]["path"].endswith("/pricings/KeyVaults")
    actions = list(
        AuditRecord.objects.filter(object_type="pricing.pricing")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["plan.set_tier", "plan.confirmed"]
    # a double submit changes nothing more
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("pricing:plans", args=[sub.pk]), data, follow=True)
    assert callbacks == [] and "Nothing to save" in response.content.decode()


def test_azure_defender_on_skips_deprecated_plans(client, world, django_capture_on_commit_callbacks):
    sub = world["kv_off"]
    client.force_login(world["users"]["owner"])
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("pricing:plans", args=[sub.pk]), {"all": "on"})
    plans = Pricing.objects.filter(subscription=sub)
    assert all(p.is_on for p in plans if not p.deprecated)
    assert not any(p.pending_tier for p in plans if p.deprecated)


def test_bad_input_changes_nothing(client, world):
    sub = world["kv_off"]
    client.force_login(world["users"]["secadmin"])
    url = reverse("pricing:plans", args=[sub.pk])
    response = client.post(url, {"plan-Quantum": "on", "plan-KeyVaults": "on"}, follow=True)
    assert "Unknown plan(s): Quantum" in response.content.decode()
    response = client.post(url, {"plan-KeyVaults": "Premium"}, follow=True)
    assert "Unknown pricing tier" in response.content.decode()
    response = client.post(url, {"plan-KubernetesService": "on", "plan-KeyVaults": "on"}, follow=True)
    assert "deprecated" in response.content.decode()
    assert not Pricing.objects.exclude(pending_tier="").exists()


def test_azure_refusing_is_shown_and_nothing_is_half_changed(world, emulator):
    """Azure answers 400 (here: enabling a deprecated plan behind the portal's back): the row shows the error."""
    sub = world["kv_off"]
    pricing = Pricing.objects.get(subscription=sub, name="KubernetesService")
    Pricing.objects.filter(pk=pricing.pk).update(pending_tier="Standard")
    assert push_pricing.apply(args=[pricing.pk]).get().startswith("refused")
    pricing.refresh_from_db()
    assert pricing.tier == "Free" and not pricing.pending_tier and pricing.last_error
    assert _upstream(emulator, sub, "KubernetesService") == "Free"


def test_partial_failure_of_a_multi_plan_save(
    client, world, emulator, settings, django_capture_on_commit_callbacks
):
    sub = world["kv_off"]
    settings.ARM_RETRY_TOTAL = 0
    emulator.fault("pricings.update", "500", times=50, match={"name": "AppServices"})
    client.force_login(world["users"]["secadmin"])
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("pricing:plans", args=[sub.pk]), {"all": "on"})
    _push_all()
    app = Pricing.objects.get(subscription=sub, name="AppServices")
    kv = Pricing.objects.get(subscription=sub, name="KeyVaults")
    assert app.tier == "Free" and app.last_error and not app.pending_tier
    assert kv.tier == "Standard"
    page = client.get(reverse("pricing:plans", args=[sub.pk])).content.decode()
    assert "Azure refused" in page or "did not answer" in page
    # the next sync converges with Azure
    sync_subscription(sub.pk, trigger="test")
    assert Pricing.objects.get(subscription=sub, name="AppServices").tier == _upstream(
        emulator, sub, "AppServices"
    )


def test_try_it_free_then_upgrade_from_a_vault(client, world, emulator, django_capture_on_commit_callbacks):
    sub = world["kv_off"]
    vault = KeyVault.objects.filter(subscription=sub).first()
    client.force_login(world["users"]["secadmin"])
    page = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "Try it free for the first 30 days" in page
    upgrade = client.get(reverse("pricing_vault:upgrade", args=[vault.pk])).content.decode()
    assert f'value="{sub.pk}" checked' in upgrade
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("pricing_vault:upgrade", args=[vault.pk]), {"subscription": sub.pk})
    assert response["Location"] == reverse("pricing_vault:security", args=[vault.pk])
    assert "Being enabled" in client.get(response["Location"]).content.decode()
    _push_all()
    assert _upstream(emulator, sub) == "Standard"
    page = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "Free trial:" in page and "days left" in page
    open_alerts = Alert.objects.filter(vault=vault, status__in=["Active", "InProgress"]).count()
    assert page.count('data-row-url="/alerts/') == min(open_alerts, 50)
    # readers see the state, not the button; outsiders get 404
    client.force_login(world["users"]["reader"])
    assert (
        client.post(reverse("pricing_vault:upgrade", args=[vault.pk]), {"subscription": sub.pk}).status_code
        == 403
    )
    client.force_login(world["users"]["outsider"])
    assert client.get(reverse("pricing_vault:security", args=[vault.pk])).status_code == 404


def test_after_the_trial_was_used_the_button_says_upgrade(client, world, django_capture_on_commit_callbacks):
    sub = world["kv_off"]
    Pricing.objects.filter(subscription=sub, name="KeyVaults").update(free_trial_remaining=None)
    vault = KeyVault.objects.filter(subscription=sub).first()
    client.force_login(world["users"]["secadmin"])
    page = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "Try it free" not in page and ">Upgrade<" in page and "billing starts as soon as" in page


def test_key_vaults_blade(client, world):
    client.force_login(world["users"]["reader"])
    body = client.get(reverse("inventory:vaults")).content.decode()
    assert "Defender for Key Vault" in body and "Open alerts" in body
    assert len(re.findall(r'href="/keyvaults/\d+/"', body)) >= 20
    sub = world["subs"][0]
    filtered = client.get(reverse("inventory:vaults") + f"?subscription={sub.pk}").content.decode()
    assert (
        len(re.findall(r'href="/keyvaults/\d+/"', filtered))
        == KeyVault.objects.filter(subscription=sub).count()
    )
