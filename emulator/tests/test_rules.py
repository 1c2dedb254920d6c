"""Alert suppression rules: CRUD through the SDK, validation, and suppression of new matching alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.security.v2019_01_01_preview.models import (
    AlertsSuppressionRule,
    ScopeElement,
    SuppressionAlertsScope,
)

from emulator.server import EmulatorServer
from emulator.tests.conftest import Http


def _rule(alert_type: str = "KV_TORAccess", **scope: Any) -> AlertsSuppressionRule:
    conditions = [ScopeElement(field=field, additional_properties=op) for field, op in scope.items()]
    return AlertsSuppressionRule(
        alert_type=alert_type,
        reason="FalsePositive",
        state="Enabled",
        comment="pen test",
        expiration_date_utc=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        suppression_alerts_scope=SuppressionAlertsScope(all_of=conditions) if conditions else None,
    )


def test_list_get_and_alert_type_filter(security: Any, sub_id: str) -> None:
    client = security(sub_id).alerts_suppression_rules
    assert sorted(r.name for r in client.list()) == ["dismiss-ci-volume", "partner-noise", "tor-pentest-2024"]
    assert [r.name for r in client.list(alert_type="KV_TORAccess")] == ["tor-pentest-2024"]
    rule = client.get("dismiss-ci-volume")
    assert rule.last_modified_utc is not None and rule.expiration_date_utc is not None
    assert rule.suppression_alerts_scope.all_of[0].field == "entities.ip.address"
    assert client.get("tor-pentest-2024").state == "Expired"


def test_put_and_delete(security: Any, http: Http, sub_id: str) -> None:
    client = security(sub_id).alerts_suppression_rules
    created = client.update("new_rule-1", _rule(**{"entities.ip.address": {"in": ["203.0.113.9"]}}))
    assert (created.name, created.state, created.alert_type) == ("new_rule-1", "Enabled", "KV_TORAccess")
    assert created.last_modified_utc is not None
    raw = http.arm("GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/alertsSuppressionRules/new_rule-1"
                   "?api-version=2019-01-01-preview").json()  # fmt: skip
    assert {"lastModifiedUtc", "expirationDateUtc"} <= set(raw["properties"])
    assert client.delete("new_rule-1") is None
    with pytest.raises(ResourceNotFoundError):
        client.get("new_rule-1")


@pytest.mark.parametrize(
    ("name", "props"),
    [
        ("-starts-with-dash", {"alertType": "X", "reason": "Other", "state": "Enabled"}),
        ("x", {"alertType": "X", "reason": "Other", "state": "Enabled"}),
        ("a" * 51, {"alertType": "X", "reason": "Other", "state": "Enabled"}),
        ("has space", {"alertType": "X", "reason": "Other", "state": "Enabled"}),
        ("ok-name", {"reason": "Other", "state": "Enabled"}),
        ("ok-name", {"alertType": "X", "state": "Enabled"}),
        ("ok-name", {"alertType": "X", "reason": "Other"}),
        ("ok-name", {"alertType": "X", "reason": "Other", "state": "Sometimes"}),
        ("ok-name", {"alertType": "X", "reason": "Other", "state": "Enabled",
                     "suppressionAlertsScope": {"allOf": [{"field": "entities.ip.address"}]}}),
    ],
)  # fmt: skip
def test_validation(http: Http, sub_id: str, name: str, props: dict[str, Any]) -> None:
    resp = http.arm(
        "PUT",
        f"/subscriptions/{sub_id}/providers/Microsoft.Security/alertsSuppressionRules/{name}?api-version=2019-01-01-preview",
        json={"properties": props},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "InvalidInputError"


def _add(http: Http, sub_id: str, **body: Any) -> dict[str, Any]:
    resp = http.control("POST", "/alerts", json={"subscription_id": sub_id, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()["alerts"][0]


def test_a_matching_new_alert_is_dismissed(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    client = security(sub_id).alerts_suppression_rules
    client.update("ip-rule", _rule(**{"entities.ip.address": {"in": ["185.220.101.47"]}}))
    client.update(
        "vault-rule", _rule("KV_AppAnomaly", **{"entities.azureresource.resourceid": {"contains": "KV-"}})
    )
    tor_ip = [{"$id": "1", "address": "185.220.101.47", "type": "ip"}]
    hit = _add(http, sub_id, alert_type="KV_TORAccess", overrides={"entities": tor_ip})
    assert (hit["status"], hit["suppressed_by"]) == ("Dismissed", "ip-rule")
    assert emu.state.find_alert_by_id(hit["id"])[1].status == "Dismissed"
    elsewhere = [{"$id": "1", "address": "192.0.2.1", "type": "ip"}]
    assert (
        _add(http, sub_id, alert_type="KV_TORAccess", overrides={"entities": elsewhere})["status"] == "Active"
    )
    app = _add(http, sub_id, alert_type="KV_AppAnomaly")
    assert (app["status"], app["suppressed_by"]) == ("Dismissed", "vault-rule")
    other = _add(http, sub_id, alert_type="KV_UserAnomaly")
    assert other["status"] == "Active"


def test_entity_matching_is_case_insensitive_and_needs_every_condition(
    security: Any, http: Http, sub_id: str
) -> None:
    client = security(sub_id).alerts_suppression_rules
    client.update("both", _rule("*", **{"entities.IP.Address": {"in": ["198.51.100.23"]},
                                        "entities.azureresource.resourceid": {"contains": "/VAULTS/"}}))  # fmt: skip
    entities = [
        {"$id": "1", "Address": "198.51.100.23", "Type": "ip"},
        {"$id": "2", "resourceId": "/subscriptions/x/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv", "type": "azure-resource"},
    ]  # fmt: skip
    hit = _add(http, sub_id, alert_type="KV_UserAnomaly", overrides={"entities": entities})
    assert (hit["status"], hit["suppressed_by"]) == ("Dismissed", "both")
    miss = _add(http, sub_id, alert_type="KV_UserAnomaly", overrides={"entities": entities[:1]})
    assert miss["status"] == "Active"


def test_disabled_and_expired_rules_do_not_suppress(security: Any, http: Http, sub_id: str) -> None:
    client = security(sub_id).alerts_suppression_rules
    client.update("all-app", _rule("KV_AppAnomaly"))
    assert _add(http, sub_id, alert_type="KV_AppAnomaly")["status"] == "Dismissed"
    http.control("POST", "/clock", json={"advance_seconds": 31 * 86400})
    assert client.get("all-app").state == "Expired"
    assert _add(http, sub_id, alert_type="KV_AppAnomaly")["status"] == "Active"
    rule = _rule("KV_AppAnomaly")
    rule.state = "Disabled"
    rule.expiration_date_utc = None
    client.update("all-app", rule)
    assert _add(http, sub_id, alert_type="KV_AppAnomaly")["status"] == "Active"


def test_simulated_alerts_are_suppressed_too(emu: EmulatorServer, security: Any, sub_id: str) -> None:
    sc = security(sub_id)
    sc.alerts_suppression_rules.delete("dismiss-ci-volume")  # the seeded rule may match a sample too
    sc.alerts_suppression_rules.update("samples", _rule("KV_TORAccess"))
    before = len(emu.state.store(sub_id))
    sc.alerts.begin_simulate(
        "westeurope", {"properties": {"kind": "Bundles", "bundles": ["KeyVaults"]}}
    ).result()
    store = emu.state.store(sub_id)
    statuses = {store.doc_at(i)["properties"]["alertType"]: store.doc_at(i)["properties"]["status"]
                for i in range(before, len(store))}  # fmt: skip
    assert statuses.pop("KV_TORAccess") == "Dismissed"
    assert set(statuses.values()) == {"Active"}


def test_put_answers_only_200(http: Http, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/alertsSuppressionRules/fresh?api-version=2019-01-01-preview"
    body = {"properties": {"alertType": "*", "reason": "Noise", "state": "Disabled"}}
    assert http.arm("PUT", path, json=body).status_code == 200
    assert http.arm("PUT", path, json=body).status_code == 200
    assert http.arm("DELETE", path).status_code == 204


def test_rule_errors_map_to_sdk_exceptions(security: Any, sub_id: str) -> None:
    with pytest.raises(HttpResponseError) as err:
        security(sub_id).alerts_suppression_rules.update("x", _rule())
    assert err.value.status_code == 400
