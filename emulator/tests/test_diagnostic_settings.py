"""Storage accounts and vault diagnostic settings over real HTTPS (the session emulator runs without Azurite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.server import EmulatorServer
from emulator.state import Vault

from .conftest import Http
from .test_persistence import Client

STORAGE = "api-version=2023-05-01"
DIAG = "api-version=2021-05-01-preview"


def _vaults(emu: EmulatorServer, sub: str) -> list[Vault]:
    return emu.state.vaults[sub.lower()]


def _accounts(http: Http, sub: str) -> list[dict[str, Any]]:
    r = http.arm("GET", f"/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts?{STORAGE}")
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def _same_region(http: Http, sub: str, vault: Vault) -> dict[str, Any]:
    return next(a for a in _accounts(http, sub) if a["location"] == vault.location)


def _setting_url(vault: Vault, name: str = "kvlogs") -> str:
    return f"{vault.id}/providers/Microsoft.Insights/diagnosticSettings/{name}?{DIAG}"


def _body(storage_id: str | None, logs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "logs": logs if logs is not None else [{"category": "AuditEvent", "enabled": True}]
    }
    if storage_id is not None:
        props["storageAccountId"] = storage_id
    return {"properties": props}


def test_storage_accounts_list_rg_list_and_get(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    accounts = _accounts(http, sub_id)
    vault_regions = {v.location for v in _vaults(emu, sub_id)}
    assert {a["location"] for a in accounts} == vault_regions | {"uksouth"}  # one extra, where no vault is
    for a in accounts:
        assert a["type"] == "Microsoft.Storage/storageAccounts" and a["kind"] == "StorageV2"
        assert a["sku"] == {"name": "Standard_LRS", "tier": "Standard"}
        assert a["name"].startswith("stkvlogs") and 3 <= len(a["name"]) <= 24 and a["name"].isalnum()
        assert a["id"].endswith(f"/providers/Microsoft.Storage/storageAccounts/{a['name']}")
        assert a["properties"]["provisioningState"] == "Succeeded"
        # no Azurite in this session: the endpoint it would have had, and the reason printed
        assert a["properties"]["primaryEndpoints"]["blob"] == f"https://127.0.0.1:10000/{a['name']}/"
    assert "ACCESS_LOGS_UNAVAILABLE" in emu.env
    rg = accounts[0]["id"].split("/")[4]
    by_rg = http.arm(
        "GET",
        f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts?{STORAGE}",
    )
    assert by_rg.status_code == 200 and accounts[0]["name"] in [a["name"] for a in by_rg.json()["value"]]
    one = http.arm(
        "GET", f"{accounts[0]['id'].upper().replace('STORAGEACCOUNTS', 'storageAccounts')}?{STORAGE}"
    )
    assert one.status_code == 200 and one.json()["name"] == accounts[0]["name"]
    missing = http.arm(
        "GET",
        f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/nope1?{STORAGE}",
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    names = [a.name for accts in emu.state.storage_accounts.values() for a in accts]
    assert len(names) == len(set(names))  # globally unique


def test_diagnostic_setting_round_trip(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    vault = _vaults(emu, sub_id)[0]
    account = _same_region(http, sub_id, vault)
    assert http.arm("GET", f"{vault.id}/providers/Microsoft.Insights/diagnosticSettings?{DIAG}").json() == {
        "value": []
    }
    put = http.arm("PUT", _setting_url(vault), json=_body(account["id"]))
    assert put.status_code == 200, put.text
    doc = put.json()
    assert doc == {
        "id": f"{vault.id}/providers/microsoft.insights/diagnosticSettings/kvlogs",
        "name": "kvlogs",
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "storageAccountId": account["id"],
            "workspaceId": None,
            "eventHubAuthorizationRuleId": None,
            "eventHubName": None,
            "marketplacePartnerId": None,
            "logAnalyticsDestinationType": None,
            "logs": [
                {
                    "category": "AuditEvent",
                    "categoryGroup": None,
                    "enabled": True,
                    "retentionPolicy": {"enabled": False, "days": 0},
                }
            ],
            "metrics": [],
        },
    }
    # case-insensitive path, like the other routes
    got = http.arm(
        "GET", _setting_url(vault).replace("/providers/Microsoft.Insights/", "/PROVIDERS/microsoft.insights/")
    )
    assert got.status_code == 200 and got.json() == doc
    listed = http.arm("GET", f"{vault.id}/providers/Microsoft.Insights/diagnosticSettings?{DIAG}").json()[
        "value"
    ]
    assert listed == [doc]
    replaced = http.arm(
        "PUT", _setting_url(vault), json=_body(account["id"], [{"categoryGroup": "allLogs", "enabled": True}])
    )
    assert (
        replaced.status_code == 200 and replaced.json()["properties"]["logs"][0]["categoryGroup"] == "allLogs"
    )
    assert http.arm("DELETE", _setting_url(vault)).status_code == 200
    assert http.arm("GET", _setting_url(vault)).status_code == 404
    assert http.arm("DELETE", _setting_url(vault)).status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"{not json", 400, "InvalidRequestContent", "JSON"),
        ({"name": "x"}, 400, "InvalidRequestContent", "properties"),
        (
            {"properties": {"logs": [{"category": "AuditEvent", "enabled": True}]}},
            400,
            "BadRequest",
            "At least one destination",
        ),
        ("CATEGORY", 400, "BadRequest", "Category 'SignInLogs' is not supported."),
        ("GROUP", 400, "BadRequest", "Category group 'everything' is not supported."),
        (
            {
                "properties": {
                    "storageAccountId": "/subscriptions/x/storage",
                    "logs": [{"category": "AuditEvent", "enabled": True}],
                }
            },
            400,
            "LinkedInvalidPropertyId",
            "/subscriptions/x/storage",
        ),
        ("MISSING", 400, "LinkedResourceNotFound", "stnothere"),
        ("OTHER_REGION", 400, "BadRequest", "must be in the same region as the resource"),
    ],
)
def test_diagnostic_setting_refusals(
    http: Http, emu: EmulatorServer, sub_id: str, body: Any, status: int, code: str, words: str
) -> None:
    vault = _vaults(emu, sub_id)[0]
    account = _same_region(http, sub_id, vault)
    if body == "CATEGORY":
        body = _body(account["id"], [{"category": "SignInLogs", "enabled": True}])
    elif body == "GROUP":
        body = _body(account["id"], [{"categoryGroup": "everything", "enabled": True}])
    elif body == "MISSING":
        body = _body(account["id"].rsplit("/", 1)[0] + "/stnothere")
    elif body == "OTHER_REGION":
        other = next(a for a in _accounts(http, sub_id) if a["location"] == "uksouth")
        body = _body(other["id"])
    kwargs = (
        {"data": body, "headers": {"Content-Type": "application/json"}}
        if isinstance(body, bytes)
        else {"json": body}
    )
    r = http.arm("PUT", _setting_url(vault), **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert words in r.json()["error"]["message"]
    assert http.arm("GET", _setting_url(vault)).status_code == 404  # nothing stored


def test_unknown_vault_and_inaccessible_subscription(
    http: Http, emu: EmulatorServer, sub_id: str, other_credential: Any
) -> None:
    vault = _vaults(emu, sub_id)[0]
    gone = vault.id.rsplit("/", 1)[0] + "/kv-nope"
    r = http.arm("PUT", f"{gone}/providers/Microsoft.Insights/diagnosticSettings/x?{DIAG}", json=_body(None))
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    assert (
        http.arm("GET", f"{gone}/providers/Microsoft.Insights/diagnosticSettings?{DIAG}").status_code == 404
    )
    fabrikam = Http(emu, other_credential.get_token("https://management.azure.com/.default").token)
    r = fabrikam.arm("GET", f"{vault.id}/providers/Microsoft.Insights/diagnosticSettings?{DIAG}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "SubscriptionNotFound"


def test_storage_account_in_another_subscription(
    http: Http, emu: EmulatorServer, sub_id: str, dev_sub_id: str, lab_sub_id: str, other_credential: Any
) -> None:
    prod_vault = next(v for v in _vaults(emu, sub_id) if v.location == "westeurope")
    dev_account = next(a for a in _accounts(http, dev_sub_id) if a["location"] == "westeurope")
    ok = http.arm("PUT", _setting_url(prod_vault), json=_body(dev_account["id"]))
    assert ok.status_code == 200, ok.text  # Contoso reaches both subscriptions
    lab_vault = _vaults(emu, lab_sub_id)[0]
    fabrikam = Http(emu, other_credential.get_token("https://management.azure.com/.default").token)
    r = fabrikam.arm("PUT", _setting_url(lab_vault), json=_body(dev_account["id"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "LinkedAuthorizationFailed", r.text
    assert dev_account["id"] in r.json()["error"]["message"]


def test_at_most_five_settings_and_no_shared_sink(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    vault = _vaults(emu, sub_id)[0]
    account = _same_region(http, sub_id, vault)
    workspace = (
        f"/subscriptions/{sub_id}/resourceGroups/rg-x/providers/Microsoft.OperationalInsights/workspaces/w"
    )
    assert http.arm("PUT", _setting_url(vault, "s1"), json=_body(account["id"])).status_code == 200
    clash = http.arm(
        "PUT",
        _setting_url(vault, "s2"),
        json=_body(account["id"], [{"categoryGroup": "audit", "enabled": True}]),
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "Conflict"
    assert "is already used in diagnostic setting 's1'" in clash.json()["error"]["message"]
    # the same account for another category is fine
    other_category = _body(account["id"], [{"category": "AzurePolicyEvaluationDetails", "enabled": True}])
    assert http.arm("PUT", _setting_url(vault, "s2"), json=other_category).status_code == 200
    for n in (3, 4, 5):
        body = {
            "properties": {"workspaceId": workspace, "logs": [{"category": "AuditEvent", "enabled": True}]}
        }
        assert http.arm("PUT", _setting_url(vault, f"s{n}"), json=body).status_code == 200
    sixth = http.arm(
        "PUT",
        _setting_url(vault, "s6"),
        json={
            "properties": {"workspaceId": workspace, "logs": [{"category": "AuditEvent", "enabled": True}]}
        },
    )
    assert (
        sixth.status_code == 400
        and "Maximum number of diagnostic settings is 5" in sixth.json()["error"]["message"]
    )
    again = http.arm(
        "PUT",
        _setting_url(vault, "S5"),
        json={
            "properties": {"workspaceId": workspace, "logs": [{"category": "AuditEvent", "enabled": False}]}
        },
    )
    assert again.status_code == 200 and again.json()["name"] == "s5"  # replacing one is not a sixth


def test_faults_throttle_kind_and_op_names(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    vault = _vaults(emu, sub_id)[0]
    account = _same_region(http, sub_id, vault)
    http.control("POST", "/faults", json={"operation": "diagnosticSettings.*", "kind": "503", "times": 1})
    http.control("POST", "/faults", json={"operation": "storageAccounts.list", "kind": "500", "times": 1})
    assert http.arm("PUT", _setting_url(vault), json=_body(account["id"])).status_code == 503
    assert (
        http.arm(
            "GET", f"/subscriptions/{sub_id}/providers/Microsoft.Storage/storageAccounts?{STORAGE}"
        ).status_code
        == 500
    )
    seq = http.last_seq()
    put = http.arm("PUT", _setting_url(vault), json=_body(account["id"]))
    assert put.status_code == 200
    assert any(h.lower() == "x-ms-ratelimit-remaining-subscription-writes" for h in put.headers)
    http.arm("GET", _setting_url(vault))
    http.arm("GET", f"{vault.id}/providers/Microsoft.Insights/diagnosticSettings?{DIAG}")
    http.arm("DELETE", _setting_url(vault))
    http.arm("GET", f"/subscriptions/{sub_id}/providers/Microsoft.Storage/storageAccounts?{STORAGE}")
    assert [e["op"] for e in http.requests_since(seq)] == [
        "diagnosticSettings.createOrUpdate",
        "diagnosticSettings.get",
        "diagnosticSettings.list",
        "diagnosticSettings.delete",
        "storageAccounts.list",
    ]


def test_access_log_control_calls_without_azurite(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    vault = _vaults(emu, sub_id)[0]
    r = http.control("POST", "/accesslogs/append", json={"vault": vault.name, "scenario": "tor"})
    assert r.status_code == 503 and "storage is off" in r.json()["error"]["message"]
    status = http.control("GET", "/accesslogs").json()
    assert status["available"] is False and status["reason"] == emu.env["ACCESS_LOGS_UNAVAILABLE"]


def test_settings_persist_across_restart_and_reset_clears_them(tmp_path: Path) -> None:
    def start() -> EmulatorServer:
        return EmulatorServer(preset="demo", data_dir=tmp_path, page_size=50).start()

    srv = start()
    try:
        client = Client.of(srv)
        sub = srv.connections[0]["subscription_ids"][0]
        vault = srv.state.vaults[sub.lower()][0]
        account = next(a for a in srv.state.storage_accounts[sub.lower()] if a.location == vault.location)
        assert client.arm("PUT", _setting_url(vault), json=_body(account.id)).status_code == 200
    finally:
        srv.stop()
    srv = start()
    try:
        client = Client.of(srv)
        got = client.arm("GET", _setting_url(vault))
        assert got.status_code == 200 and got.json()["properties"]["storageAccountId"] == account.id
        assert client.control("POST", "reset").status_code == 200
        assert client.arm("GET", _setting_url(vault)).status_code == 404
    finally:
        srv.stop()
