"""Emulator payloads checked key by key (names and casing, recursively) against the REST spec examples.

Only the keys an example has are checked: the emulator may send more. The examples' known quirks are
normalised first (AZURE.md §0.9: `lastModifiedUTC` in the rule examples is `lastModifiedUtc` in the schema).
Lists of typed items (entities, resource identifiers, evidence) are compared item by item of the same `type`;
entity types the Key Vault alerts never carry (host, file, process, a Windows account) are left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from emulator.server import EmulatorServer
from emulator.tests.conftest import Http, specs_dir

_QUIRKS = {"lastModifiedUTC": "lastModifiedUtc", "expirationDateUTC": "expirationDateUtc"}
_FREE_FORM = {"extendedProperties", "additionalExtensionProperties", "tags", "arguments"}
_OPTIONAL = {"hsmPoolResourceId"}  # managed-HSM pool id: the example vaults carry it, plain vaults don't
_KV_ENTITY_TYPES = {"ip", "azure-resource", "cloud-application"}  # the example account is a Windows one


@pytest.fixture(scope="module")
def specs() -> Path:
    found = specs_dir()
    if found is None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("azure-specs examples not found (set AZURE_SPECS_DIR)")
        pytest.skip("azure-specs examples not found (set AZURE_SPECS_DIR)")
    return found


def _example(specs: Path, rel: str, status: str = "200") -> Any:
    return json.loads((specs / rel).read_text())["responses"][status]["body"]


def assert_keys_like(example: Any, actual: Any, path: str = "$") -> int:
    """Every key of `example` exists in `actual` with the same spelling; returns how many keys were checked."""
    checked = 0
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {type(actual).__name__}"
        for key, value in example.items():
            key = _QUIRKS.get(key, key)
            if key in _OPTIONAL:
                continue
            assert key in actual, f"{path}: missing key {key!r} (have {sorted(actual)})"
            checked += 1
            if key in _FREE_FORM:
                continue
            checked += assert_keys_like(value, actual[key], f"{path}.{key}")
    elif isinstance(example, list) and example and isinstance(example[0], dict):
        assert isinstance(actual, list), f"{path}: expected a list"
        for n, item in enumerate(example):
            kind = item.get("type")
            if path.endswith(".entities") and kind not in _KV_ENTITY_TYPES:
                continue
            if path.endswith(".extensions"):
                candidates = [a for a in actual if a.get("name") == item.get("name")]
            elif kind is None:
                candidates = actual[n : n + 1]  # untyped lists: position by position
            else:
                candidates = [a for a in actual if isinstance(a, dict) and a.get("type") == kind]
            if candidates:
                checked += assert_keys_like(item, candidates[0], f"{path}[{n}]")
    return checked


def _alert_with(emu: EmulatorServer, sub_id: str, *needs: str) -> dict[str, Any]:
    for doc in emu.state.store(sub_id).iter_docs():
        props = doc["properties"]
        if all(n in props for n in needs) and any(
            r["type"] == "LogAnalytics" for r in props["resourceIdentifiers"]
        ) == ("LogAnalytics" in needs):
            return doc
    raise AssertionError(f"no demo alert with {needs}")


def test_alerts(specs: Path, emu: EmulatorServer, http: Http, sub_id: str) -> None:
    example = _example(specs, "alerts-2022-01-01/GetAlertsSubscription_example.json")
    page = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    ).json()
    assert set(example) <= set(page)
    tabular = _alert_with(emu, sub_id, "supportingEvidence", "techniques", "productComponentName")
    if tabular["properties"]["supportingEvidence"]["type"] != "tabularEvidences":
        tabular = next(
            d for d in emu.state.store(sub_id).iter_docs()
            if d["properties"].get("supportingEvidence", {}).get("type") == "tabularEvidences"
            and "techniques" in d["properties"]
        )  # fmt: skip
    first, second = example["value"]
    assert assert_keys_like(first, tabular) > 40
    nested = next(
        d for d in emu.state.store(sub_id).iter_docs()
        if d["properties"].get("supportingEvidence", {}).get("type") == "supportingEvidenceList"
        and "techniques" in d["properties"]
    )  # fmt: skip
    assert assert_keys_like(second, nested) > 40
    with_la = next(
        d for d in emu.state.store(sub_id).iter_docs()
        if any(r["type"] == "LogAnalytics" for r in d["properties"]["resourceIdentifiers"])
    )  # fmt: skip
    assert_keys_like(first["properties"]["resourceIdentifiers"], with_la["properties"]["resourceIdentifiers"])
    single = _example(specs, "alerts-2022-01-01/GetAlertSubscriptionLocation_example.json")
    assert set(single) <= set(tabular) and set(single["properties"]) - {"supportingEvidence"} <= set(
        tabular["properties"]
    )


def test_pricings(
    specs: Path, http: Http, tenant: dict[str, Any], other_tenant: dict[str, Any], other_token: str
) -> None:
    example = _example(specs, "pricings-2024-01-01/ListPricings_example.json")["value"]
    ours: dict[tuple[str, str], dict[str, Any]] = {}
    for sid, token in [(s, None) for s in tenant["subscription_ids"]] + [
        (other_tenant["subscription_ids"][0], other_token)
    ]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        listed = http.arm("GET", f"/subscriptions/{sid}/providers/Microsoft.Security/pricings?api-version=2024-01-01",
                          headers=headers).json()["value"]  # fmt: skip
        for plan in listed:
            ours.setdefault((plan["name"], plan["properties"]["pricingTier"]), plan)
    compared = 0
    for plan in example:
        mine = ours.get((plan["name"], plan["properties"]["pricingTier"]))
        if mine is not None:
            assert_keys_like(plan, mine, plan["name"])
            compared += 1
    assert compared >= 11
    filtered = _example(specs, "pricings-2024-01-01/ListPricingsWithPlanFilter_example.json")
    assert set(filtered) == {"value"}
    sid = tenant["subscription_ids"][0]
    put = http.arm("PUT", f"/subscriptions/{sid}/providers/Microsoft.Security/pricings/CloudPosture?api-version=2024-01-01",
                   json={"properties": {"pricingTier": "Standard"}}).json()  # fmt: skip
    assert assert_keys_like(_example(specs, "pricings-2024-01-01/PutPricingByName_example.json"), put) > 10
    dns = http.arm("GET", f"/subscriptions/{other_tenant['subscription_ids'][0]}/providers/Microsoft.Security/pricings/Dns"
                   "?api-version=2024-01-01", headers={"Authorization": f"Bearer {other_token}"}).json()  # fmt: skip
    assert_keys_like(_example(specs, "pricings-2024-01-01/GetPricingByNameDns_example.json"), dns)


def test_security_contacts(specs: Path, http: Http, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/securityContacts"
    got = http.arm("GET", f"{path}/default?api-version=2020-01-01-preview").json()
    assert_keys_like(
        _example(specs, "securitycontacts-2020-01-01-preview/GetSecurityContact_example.json"), got
    )
    listed = http.arm("GET", f"{path}?api-version=2020-01-01-preview").json()
    list_example = _example(
        specs, "securitycontacts-2020-01-01-preview/GetSecurityContactsSubscription_example.json"
    )
    list_example["value"][0]["properties"]["emails"] = (
        "str"  # the example has a list where the schema has a string
    )
    assert_keys_like(list_example, listed)
    body = {
        "properties": {
            "emails": "a@contoso.com",
            "alertNotifications": {"state": "On", "minimalSeverity": "High"},
        }
    }
    updated = http.arm("PUT", f"{path}/default?api-version=2020-01-01-preview", json=body).json()
    assert_keys_like(
        _example(specs, "securitycontacts-2020-01-01-preview/UpdateSecurityContact_example.json"), updated
    )
    got23 = http.arm("GET", f"{path}/default?api-version=2023-12-01-preview").json()
    assert (
        assert_keys_like(
            _example(specs, "securitycontacts-2023-12-01-preview/GetSecurityContact_example.json"), got23
        )
        > 10
    )
    list23 = http.arm("GET", f"{path}?api-version=2023-12-01-preview").json()
    assert_keys_like(
        _example(specs, "securitycontacts-2023-12-01-preview/GetSecurityContactsSubscription_example.json"),
        list23,
    )
    create_example = json.loads(
        (specs / "securitycontacts-2023-12-01-preview/CreateSecurityContact_example.json").read_text()
    )
    put23 = http.arm("PUT", f"{path}/default?api-version=2023-12-01-preview",
                     json=create_example["parameters"]["securityContact"])  # fmt: skip
    assert put23.status_code == 200
    assert_keys_like(create_example["responses"]["200"]["body"], put23.json())
    assert put23.json()["type"] == create_example["responses"]["200"]["body"]["type"]


def test_suppression_rules(specs: Path, http: Http, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/alertsSuppressionRules"
    example = json.loads(
        (
            specs / "alertssuppressionrules-2019-01-01-preview/PutAlertsSuppressionRule_example.json"
        ).read_text()
    )
    body = example["parameters"]["alertsSuppressionRule"]
    body["properties"]["expirationDateUTC"] = "2099-12-01T19:50:47.083633Z"
    put = http.arm("PUT", f"{path}/dismissIpAnomalyAlerts?api-version=2019-01-01-preview", json=body)
    assert put.status_code == 200, put.text
    assert "lastModifiedUTC" not in put.json()["properties"]
    assert_keys_like(example["responses"]["200"]["body"], put.json())
    got = http.arm("GET", f"{path}/dismissIpAnomalyAlerts?api-version=2019-01-01-preview").json()
    assert (
        assert_keys_like(
            _example(
                specs, "alertssuppressionrules-2019-01-01-preview/GetAlertsSuppressionRule_example.json"
            ),
            got,
        )
        > 10
    )
    listed = http.arm("GET", f"{path}?api-version=2019-01-01-preview&AlertType=IpAnomaly").json()
    assert_keys_like(
        _example(
            specs,
            "alertssuppressionrules-2019-01-01-preview/GetAlertsSuppressionRulesWithAlertType_example.json",
        ),
        listed,
    )


def test_key_vaults(specs: Path, emu: EmulatorServer, http: Http, sub_id: str) -> None:
    vault = next(v for v in emu.state.vaults[sub_id.lower()] if v.doc["properties"]["accessPolicies"])
    got = http.arm("GET", f"{vault.id}?api-version=2026-05-15").json()
    assert assert_keys_like(_example(specs, "keyvault-vaults-2025-05-01/getVault.json"), got) > 25
    listed = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.KeyVault/vaults?api-version=2025-05-01&$top=1"
    ).json()
    example = _example(specs, "keyvault-vaults-2025-05-01/listVaultBySubscription.json")
    assert set(example) <= set(listed)
    assert_keys_like(example["value"][0], got)
    by_rg = _example(specs, "keyvault-vaults-2025-05-01/listVaultByResourceGroup.json")
    assert_keys_like(by_rg["value"][0], got)


def test_subscriptions(specs: Path, http: Http, other_token: str) -> None:
    example = _example(specs, "subscriptions-2022-12-01/GetSubscriptions.json")
    mine = http.arm("GET", "/subscriptions?api-version=2022-12-01&$top=1").json()
    assert set(example) <= set(mine)
    theirs = http.arm(
        "GET", "/subscriptions?api-version=2022-12-01", headers={"Authorization": f"Bearer {other_token}"}
    ).json()
    assert theirs["value"][0]["managedByTenants"]
    assert assert_keys_like(example["value"][0], theirs["value"][0]) >= 12


@pytest.fixture(scope="module")
def other_token(other_credential: Any) -> str:
    return str(other_credential.get_token("https://management.azure.com/.default").token)
