"""Subscriptions and key vaults through the real SubscriptionClient and KeyVaultManagementClient."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from emulator.server import EmulatorServer
from emulator.tests.conftest import Http


def _kv(emu: EmulatorServer, credential: Any, sub_id: str) -> KeyVaultManagementClient:
    return KeyVaultManagementClient(
        credential, sub_id, base_url=emu.base_url, connection_verify=str(emu.ca_path)
    )


def test_subscriptions_2022_12_01(emu: EmulatorServer, credential: Any, tenant: dict[str, Any]) -> None:
    client = SubscriptionClient(credential, base_url=emu.base_url, connection_verify=str(emu.ca_path))
    subs = list(client.subscriptions.list())
    # and Fabrikam's lab, delegated to Contoso through Azure Lighthouse: its home tenant stays Fabrikam's
    assert [s.display_name for s in subs] == [
        "Contoso Production",
        "Contoso Development",
        "Fabrikam Security Lab",
    ]
    assert all(s.tenant_id == tenant["tenant_id"] for s in subs[:2])
    assert subs[2].tenant_id != tenant["tenant_id"]
    assert [t.tenant_id for t in subs[2].managed_by_tenants] == [tenant["tenant_id"]]
    assert subs[0].tags == {"env": "prod", "costCenter": "CC-1001"}
    assert client.subscriptions.get(subs[1].subscription_id).display_name == "Contoso Development"


def test_subscriptions_2016_06_01_has_no_tenant_id(http: Http) -> None:
    old = http.arm("GET", "/subscriptions?api-version=2016-06-01").json()["value"][0]
    assert "tenantId" not in old and "tags" not in old
    assert set(old) == {
        "id",
        "subscriptionId",
        "displayName",
        "state",
        "subscriptionPolicies",
        "authorizationSource",
    }
    new = http.arm("GET", "/subscriptions?api-version=2022-12-01").json()["value"][0]
    assert {"tenantId", "tags", "managedByTenants"} <= set(new)


def test_vaults_list_by_subscription_pages(
    emu: EmulatorServer, credential: Any, http: Http, sub_id: str
) -> None:
    seq = http.last_seq()
    vaults = list(_kv(emu, credential, sub_id).vaults.list_by_subscription(top=5))
    assert len(vaults) == len(emu.state.vaults[sub_id.lower()]) == 16
    assert len(http.requests_since(seq, "vaults.list")) == 4
    v = vaults[0]
    assert v.properties.vault_uri == f"https://{v.name}.vault.azure.net/"
    assert v.properties.sku.name in ("standard", "premium")
    assert v.properties.network_acls.default_action in ("Allow", "Deny")
    assert v.tags["env"] == "prod"


def test_vault_variety(emu: EmulatorServer) -> None:
    docs = [v.doc for vaults in emu.state.vaults.values() for v in vaults]
    assert 38 <= len(docs) <= 45
    props = [d["properties"] for d in docs]
    assert {p["sku"]["name"] for p in props} == {"standard", "premium"}
    assert {p["enableRbacAuthorization"] for p in props} == {True, False}
    assert {p["publicNetworkAccess"] for p in props} == {"Enabled", "Disabled"}
    assert {p["networkAcls"]["defaultAction"] for p in props} == {"Allow", "Deny"}
    assert any("enablePurgeProtection" not in p for p in props) and any(
        p.get("enablePurgeProtection") for p in props
    )
    assert len({d["location"] for d in docs}) >= 5


def test_vaults_by_resource_group_and_get(emu: EmulatorServer, credential: Any, sub_id: str) -> None:
    client = _kv(emu, credential, sub_id).vaults
    vault = emu.state.vaults[sub_id.lower()][0]
    in_rg = list(client.list_by_resource_group(vault.resource_group))
    assert vault.name in {v.name for v in in_rg}
    assert all(v.id.split("/")[4] == vault.resource_group for v in in_rg)
    got = client.get(vault.resource_group, vault.name.upper())
    assert got.id == vault.id
    with pytest.raises(ResourceNotFoundError):
        client.get(vault.resource_group, "kv-missing")
    with pytest.raises(ResourceNotFoundError) as err:
        client.get("rg-missing", vault.name)
    assert err.value.error is not None and err.value.error.code == "ResourceGroupNotFound"


def test_generic_resources_listing(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/resources"
    flt = {
        "$filter": "resourceType eq 'Microsoft.KeyVault/vaults'",
        "api-version": "2021-04-01",
        "$top": "10",
    }
    first = http.arm("GET", path, params=flt).json()
    assert len(first["value"]) == 10
    assert set(first["value"][0]) == {"id", "name", "type", "location", "tags"}
    assert "$filter=resourceType%20eq%20'Microsoft.KeyVault%2Fvaults'" in first["nextLink"]
    second = http.arm("GET", first["nextLink"]).json()
    assert len(second["value"]) == 6 and "nextLink" not in second
    other = http.arm(
        "GET", path, params={**flt, "$filter": "resourceType eq 'Microsoft.Compute/virtualMachines'"}
    )
    assert other.json() == {"value": []}
    bad = http.arm("GET", path, params={**flt, "$filter": "name eq 'x' or 1 eq 1"})
    assert bad.status_code == 400


def test_keyvault_sdk_list_uses_the_generic_resources_endpoint(
    emu: EmulatorServer, credential: Any, http: Http, sub_id: str
) -> None:
    seq = http.last_seq()
    resources = list(_kv(emu, credential, sub_id).vaults.list())
    assert len(resources) == 16
    assert {c["op"] for c in http.requests_since(seq) if c["op"] not in ("token", "openid")} == {
        "resources.list"
    }
