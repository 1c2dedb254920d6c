"""Collect access logs end to end, against the emulator over HTTPS with the real SDK pipeline and Azurite: a Security
Admin picks a storage account of the vault's region, the diagnostic setting is written back and confirmed by a read
back, the log (appended by the emulator, playing Azure Monitor) is read with the connection's bearer token, and
local detections arrive with their evidence. Readers see the state but cannot change it; Azure's refusals are
shown; turning it off deletes the setting."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accesslogs.models import LogCollection
from accesslogs.selectors import storage_accounts
from accesslogs.tasks import list_storage_accounts, poll_subscription, push_collection
from alerts.models import Alert, Origin
from portal.accounts.models import Role
from portal.arm import operations
from portal.inventory.azure import config_for
from portal.inventory.models import KeyVault
from portal.testing.factories import grant, make_user
from sync.orchestrator import sync_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(emulator: Any) -> dict[str, Any]:
    emulator.need_blob_storage()
    subs = emulator.discover()
    sub = next(s for s in subs if KeyVault.objects.filter(subscription=s).exists() or True)
    sync_subscription(sub.pk, trigger="test")
    vault = KeyVault.objects.filter(subscription=sub).order_by("name").first()
    assert vault is not None
    secadmin, reader = make_user("logs-admin"), make_user("logs-reader")
    grant(secadmin, sub, Role.SECURITY_ADMIN)
    grant(reader, sub, Role.READER)
    return {"sub": sub, "vault": vault, "secadmin": secadmin, "reader": reader}


def list_accounts(client: Any, world: dict[str, Any], capture: Any) -> list[Any]:
    """Open Collect access logs: the listing is asked of ARM by a task (run here), and the page then shows it."""
    vault = world["vault"]
    client.force_login(world["secadmin"])
    with capture(execute=False) as queued:
        page = client.get(reverse("accesslogs:collect", args=[vault.pk])).content.decode()
    assert "Listing…" in page and 'hx-trigger="every' in page and len(queued) == 1
    assert list_storage_accounts.apply(args=[world["sub"].pk]).get().endswith("storage accounts")
    page = client.get(reverse("accesslogs:collect", args=[vault.pk])).content.decode()
    usable, others = storage_accounts(vault)
    assert usable and all(a.location == vault.location for a in usable)
    assert all(a.name in page for a in usable + others) and "another region" in page
    return usable


def turn_on(client: Any, world: dict[str, Any], capture: Any) -> LogCollection:
    vault = world["vault"]
    usable = list_accounts(client, world, capture)
    with capture(execute=False) as callbacks:
        answer = client.post(
            reverse("accesslogs:collect", args=[vault.pk]), {"storage_account": usable[0].pk}
        )
    assert answer.status_code == 302 and len(callbacks) == 1
    collection = LogCollection.objects.get(vault=vault)
    assert collection.state == LogCollection.State.PENDING_ON
    assert collection.storage_account_id == usable[0].arm_id
    security = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "Being turned on" in security and 'hx-trigger="every' in security
    assert push_collection.apply(args=[collection.pk]).get().endswith("confirmed")
    collection.refresh_from_db()
    assert collection.state == LogCollection.State.ON and collection.last_error == ""
    return collection


def test_a_security_admin_turns_collection_on_and_local_detections_arrive(
    emulator: Any, world: dict[str, Any], client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vault, sub = world["vault"], world["sub"]
    collection = turn_on(client, world, django_capture_on_commit_callbacks)
    setting = operations.get_diagnostic_setting(
        config_for(sub.connection), vault.arm_id, collection.setting_name
    )
    assert setting is not None and setting["properties"]["logs"][0]["category"] == "AuditEvent"
    emulator.append_log(vault.arm_id, scenario="usual", count=20, split=True)
    emulator.append_log(vault.arm_id, scenario="tor")
    emulator.append_log(vault.arm_id, scenario="mass_dump")
    result = poll_subscription.apply(args=[sub.pk]).get()
    assert "detections" in result
    local = Alert.objects.filter(origin=Origin.LOCAL, vault=vault)
    types = set(local.values_list("alert_type", flat=True))
    assert {"LOCAL_TORAccess", "LOCAL_MassSecretRetrieval"} <= types, result
    collection.refresh_from_db()
    assert collection.records_read >= 80 and collection.last_poll_error == ""
    # nothing new: nothing read again, nothing raised twice
    before = local.count()
    poll_subscription.apply(args=[sub.pk]).get()
    assert local.count() == before
    # the analyst reads one's evidence, on the page and as JSON
    tor = local.get(alert_type="LOCAL_TORAccess")
    client.force_login(world["reader"])
    page = client.get(reverse("alerts:detail", args=[tor.pk])).content.decode()
    assert "Evidence from the vault" in page and tor.caller_ip in page
    records = client.get(reverse("accesslogs:evidence_json", args=[tor.pk])).json()["records"]
    assert records and records[0]["callerIpAddress"] == tor.caller_ip
    security = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "<strong>On</strong>" in security and "Stop collecting" not in security  # a reader


def test_a_reader_sees_the_state_but_cannot_change_it(world: dict[str, Any], client: Any) -> None:
    vault = world["vault"]
    client.force_login(world["reader"])
    security = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "Access logs" in security and "Collect access logs" not in security
    assert "Security Admins and Owners" in security
    assert client.get(reverse("accesslogs:collect", args=[vault.pk])).status_code == 403
    assert (
        client.post(reverse("accesslogs:collect", args=[vault.pk]), {"storage_account": "x"}).status_code
        == 403
    )
    assert client.post(reverse("accesslogs:stop", args=[vault.pk])).status_code == 403
    assert not LogCollection.objects.exists()


def test_azure_refusing_the_setting_is_shown_and_nothing_is_collected(
    emulator: Any, world: dict[str, Any], client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vault = world["vault"]
    usable = list_accounts(client, world, django_capture_on_commit_callbacks)
    # a storage account not listed for the vault's region is refused before anything is asked of Azure
    _usable, others = storage_accounts(vault)
    for wrong in ("/subscriptions/x", str(others[0].pk) if others else "0"):
        answer = client.post(reverse("accesslogs:collect", args=[vault.pk]), {"storage_account": wrong})
        assert answer.status_code == 200 and "Pick one of the storage accounts" in answer.content.decode()
    # Azure refuses: the sixth setting on the vault
    config = config_for(world["sub"].connection)
    workspace = "/subscriptions/x/resourceGroups/r/providers/Microsoft.OperationalInsights/workspaces/w"
    for i in range(5):
        operations.put_diagnostic_setting(
            config,
            vault.arm_id,
            f"other-{i}",
            {"workspaceId": f"{workspace}{i}", "logs": [{"category": "AuditEvent", "enabled": True}]},
        )
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("accesslogs:collect", args=[vault.pk]), {"storage_account": usable[0].pk})
    collection = LogCollection.objects.get(vault=vault)
    assert push_collection.apply(args=[collection.pk]).get().startswith("refused")
    collection.refresh_from_db()
    assert collection.state == LogCollection.State.OFF and "5" in collection.last_error
    security = client.get(reverse("pricing_vault:security", args=[vault.pk])).content.decode()
    assert "Azure refused the last change" in security and "Collect access logs" in security


def test_azure_not_answering_is_retried_then_turning_off_deletes_the_setting(
    emulator: Any, world: dict[str, Any], client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vault, sub = world["vault"], world["sub"]
    collection = turn_on(client, world, django_capture_on_commit_callbacks)
    emulator.fault("diagnosticSettings.delete", "503", times=2)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("accesslogs:stop", args=[vault.pk]))
    collection.refresh_from_db()
    assert collection.state == LogCollection.State.PENDING_OFF
    push_collection.apply(args=[collection.pk]).get()  # the SDK's retries outlast two 503s
    collection.refresh_from_db()
    assert collection.state == LogCollection.State.OFF
    config = config_for(sub.connection)
    assert operations.get_diagnostic_setting(config, vault.arm_id, collection.setting_name) is None
    assert "diagnosticSettings.delete" in {r.get("op") for r in emulator.requests()}
