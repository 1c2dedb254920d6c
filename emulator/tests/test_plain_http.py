"""What other Azure clients and the portal's tests use with plain `requests`: metadata, throttling, control API."""

from __future__ import annotations

import requests

from emulator.server import EmulatorServer
from emulator.tests.conftest import Http


def _assert_emulated_cloud(cloud: dict, emu: EmulatorServer) -> None:
    assert cloud["name"] == "AzureCloud"
    assert cloud["resourceManager"] == f"{emu.base_url}/"
    assert cloud["authentication"]["loginEndpoint"] == f"{emu.base_url}/"
    assert cloud["authentication"]["tenant"] == "common"
    assert cloud["authentication"]["identityProvider"] == "AAD"
    assert "https://management.azure.com/" in cloud["authentication"]["audiences"]
    assert cloud["suffixes"]["keyVaultDns"] == "vault.azure.net"
    assert {
        "portal",
        "media",
        "graphAudience",
        "graph",
        "batch",
        "sqlManagement",
        "microsoftGraphResourceId",
    } <= set(cloud)


def test_metadata_endpoints_current_cloud_from_2022_09_01(http: Http, emu: EmulatorServer) -> None:
    """What azure-cli 2.x (`az cloud register --endpoint-resource-manager`) requests and reads: ONE cloud object."""
    for version in ("2022-09-01", "2023-11-01"):
        resp = http.arm("GET", f"/metadata/endpoints?api-version={version}", auth=False)
        assert resp.status_code == 200
        cloud = resp.json()
        assert isinstance(cloud, dict)
        _assert_emulated_cloud(cloud, emu)


def test_metadata_endpoints_list_of_clouds_before_2022_09_01(http: Http, emu: EmulatorServer) -> None:
    for version in ("2019-05-01", "2020-06-01", "2022-08-01"):
        resp = http.arm("GET", f"/metadata/endpoints?api-version={version}", auth=False)
        assert resp.status_code == 200
        clouds = resp.json()
        assert isinstance(clouds, list)
        assert [c["name"] for c in clouds] == ["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"]
        _assert_emulated_cloud(clouds[0], emu)
        assert all(set(clouds[0]["authentication"]) == set(c["authentication"]) for c in clouds)
        assert clouds[1]["resourceManager"].startswith("https://management.chinacloudapi.cn")


def test_metadata_endpoints_legacy_shape(http: Http, emu: EmulatorServer) -> None:
    doc = http.arm("GET", "/metadata/endpoints?api-version=2018-01-01", auth=False).json()
    assert {"galleryEndpoint", "graphEndpoint", "portalEndpoint", "authentication", "cloudEndpoint"} <= set(
        doc
    )
    assert doc["authentication"]["loginEndpoint"] == f"{emu.base_url}/"
    assert (
        "cloudEndpoint"
        not in http.arm("GET", "/metadata/endpoints?api-version=2015-01-01", auth=False).json()
    )
    assert http.arm("GET", "/metadata/endpoints", auth=False).status_code == 400


def test_rate_limit_headers_count_down(http: Http, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings?api-version=2024-01-01"
    first = int(http.arm("GET", path).headers["x-ms-ratelimit-remaining-subscription-reads"])
    second = int(http.arm("GET", path).headers["x-ms-ratelimit-remaining-subscription-reads"])
    assert second < first <= 249
    tenant_level = http.arm("GET", "/subscriptions?api-version=2022-12-01")
    assert "x-ms-ratelimit-remaining-tenant-reads" in tenant_level.headers


def test_throttling_answers_429_with_retry_after(http: Http, sub_id: str) -> None:
    assert http.control("POST", "/throttle", json={"enabled": True}).json() == {"enabled": True}
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings/KeyVaults?api-version=2024-01-01"
    statuses = []
    while 429 not in statuses and len(statuses) < 2000:  # 250 tokens, refilling 25/s
        throttled = http.arm("GET", path)
        statuses.append(throttled.status_code)
    assert statuses[0] == 200 and statuses[-1] == 429
    assert len(statuses) > 250
    # the 429 itself (a request sent after it may already find a refilled token on a slow machine)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    assert throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    # writes have their own bucket
    write = http.arm("PUT", path, json={"properties": {"pricingTier": "Standard"}})
    assert write.status_code == 200
    assert http.control("POST", "/throttle", json={"enabled": False}).json() == {"enabled": False}
    assert http.arm("GET", path).status_code == 200


def test_control_api_needs_the_control_token(emu: EmulatorServer) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emu.ca_path)
    assert session.get(f"{emu.control_url}/state", timeout=10).status_code == 401
    wrong = session.get(f"{emu.control_url}/state", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    ok = session.get(
        f"{emu.control_url}/state", headers={"Authorization": f"Bearer {emu.control_token}"}, timeout=10
    )
    assert ok.status_code == 200


def test_state_summary_and_connections(http: Http, emu: EmulatorServer) -> None:
    summary = http.control("GET", "/state").json()
    assert summary["preset"] == "demo"
    assert [s["alerts"] for s in summary["subscriptions"]] == [250, 150, 100]
    assert summary["subscriptions"][0]["pricings"]["KeyVaults"] == "Standard"
    assert http.control("GET", "/connections").json() == emu.connections


def test_request_log_since_and_clear(http: Http, sub_id: str) -> None:
    seq = http.last_seq()
    http.arm(
        "GET",
        f"/subscriptions/{sub_id}/providers/Microsoft.Security/alertsSuppressionRules?api-version=2019-01-01-preview",
    )
    http.arm("GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/nope?api-version=1")
    entries = http.requests_since(seq)
    assert [(e["op"], e["status"], e["subscription_id"]) for e in entries] == [
        ("rules.list", 200, sub_id),
        (None, 404, None),
    ]
    assert entries[0]["method"] == "GET" and "api-version=" in entries[0]["query"] and entries[0]["time"]
    http.control("DELETE", "/requests")
    assert http.requests_since(0) == []


def test_clock_and_reset(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    before = emu.state.clock.now()
    moved = http.control("POST", "/clock", json={"advance_seconds": 3600}).json()
    assert moved["offset_seconds"] == 3600
    http.control("POST", "/alerts", json={"subscription_id": sub_id, "count": 2})
    assert len(emu.state.store(sub_id)) == 252
    assert http.control("POST", "/reset").json()["reset"] is True
    assert len(emu.state.store(sub_id)) == 250
    assert abs((emu.state.clock.now() - before).total_seconds()) < 60


def test_control_alert_creation_options(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    resp = http.control(
        "POST",
        "/alerts",
        json={"subscription_id": sub_id, "count": 2, "alert_type": "KV_TORAccess", "severity": "high",
              "resource_group": None, "overrides": {"compromisedEntity": "custom"}},
    )  # fmt: skip
    body = resp.json()
    assert resp.status_code == 201 and len(body["ids"]) == 2
    for alert_id in body["ids"]:
        doc = emu.state.find_alert_by_id(alert_id)[1].doc
        assert "/resourceGroups/" not in doc["id"]
        props = doc["properties"]
        assert (props["alertType"], props["severity"], props["compromisedEntity"]) == (
            "KV_TORAccess",
            "High",
            "custom",
        )
    in_rg = http.control(
        "POST", "/alerts", json={"subscription_id": sub_id, "resource_group": "rg-payments-prod"}
    )
    assert "/resourceGroups/rg-payments-prod/" in in_rg.json()["ids"][0]
    assert http.control("POST", "/alerts", json={"subscription_id": "nope"}).status_code == 404


def test_unknown_path_and_method(http: Http, sub_id: str) -> None:
    assert http.arm("GET", "/nothing/here?api-version=1").status_code == 404
    resp = http.arm(
        "PATCH", f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings/KeyVaults?api-version=1"
    )
    assert resp.status_code == 405
