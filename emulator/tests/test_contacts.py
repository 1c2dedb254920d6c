"""Security contacts: the SDK's 2020-01-01-preview shape and the raw 2023-12-01-preview shape of one model."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.security.v2020_01_01_preview.models import (
    SecurityContact,
    SecurityContactPropertiesAlertNotifications,
    SecurityContactPropertiesNotificationsByRole,
)

from emulator.tests.conftest import Http

V2023 = "2023-12-01-preview"


def _raw(client: Any, method: str, sub_id: str, body: Any = None) -> Any:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/securityContacts/default"
    request = HttpRequest(method, client._client.format_url(path), params={"api-version": V2023}, json=body)
    return client._client.send_request(request)


def test_get_and_list_in_the_2020_shape(security: Any, sub_id: str) -> None:
    client = security(sub_id).security_contacts
    contact = client.get("default")
    assert contact.emails == "secops@contoso.com;kv-owners@contoso.com"
    assert contact.alert_notifications.state == "On"
    assert contact.alert_notifications.minimal_severity == "Medium"
    assert contact.notifications_by_role.roles == ["Owner"]
    assert [c.name for c in client.list()] == ["default"]


def test_update_then_delete_then_create(security: Any, http: Http, sub_id: str) -> None:
    client = security(sub_id).security_contacts
    body = SecurityContact(
        emails="a@contoso.com;b@contoso.com",
        phone="+1 555 0100",
        alert_notifications=SecurityContactPropertiesAlertNotifications(state="On", minimal_severity="High"),
        notifications_by_role=SecurityContactPropertiesNotificationsByRole(
            state="On", roles=["Owner", "Contributor"]
        ),
    )
    updated = client.create("default", body)
    assert (updated.emails, updated.alert_notifications.minimal_severity) == (
        "a@contoso.com;b@contoso.com",
        "High",
    )
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/securityContacts/default"
    assert http.arm("DELETE", f"{path}?api-version=2020-01-01-preview").status_code == 200
    assert http.arm("DELETE", f"{path}?api-version=2020-01-01-preview").status_code == 204
    with pytest.raises(ResourceNotFoundError):
        client.get("default")
    assert list(client.list()) == []
    resp = http.arm("PUT", f"{path}?api-version=2020-01-01-preview", json=body.serialize())
    assert resp.status_code == 201
    client.delete("default")


def test_the_2023_shape_renders_the_same_model(security: Any, sub_id: str) -> None:
    client = security(sub_id).security_contacts
    resp = _raw(client, "GET", sub_id)
    assert resp.status_code == 200
    body = resp.json()
    assert body["type"] == "Microsoft.Security/securityContact"
    props = body["properties"]
    assert props["isEnabled"] is True
    assert props["emails"] == "secops@contoso.com;kv-owners@contoso.com"
    assert {"sourceType": "Alert", "minimalSeverity": "Medium"} in props["notificationsSources"]
    assert {"sourceType": "AttackPath", "minimalRiskLevel": "High"} in props["notificationsSources"]
    assert props["notificationsByRole"] == {"state": "On", "roles": ["Owner"]}


def test_a_2023_write_is_read_back_in_the_2020_shape(security: Any, sub_id: str) -> None:
    client = security(sub_id).security_contacts
    body = {
        "properties": {
            "isEnabled": True,
            "emails": "soc@contoso.com",
            "phone": "",
            "notificationsByRole": {"state": "Off", "roles": []},
            "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "Low"}],
        }
    }
    resp = _raw(client, "PUT", sub_id, body)
    assert resp.status_code == 200
    assert resp.json()["properties"]["notificationsSources"] == [
        {"sourceType": "Alert", "minimalSeverity": "Low"}
    ]
    contact = client.get("default")
    assert (contact.emails, contact.alert_notifications.minimal_severity) == ("soc@contoso.com", "Low")
    assert contact.notifications_by_role.state == "Off"
    disabled = _raw(client, "PUT", sub_id, {"properties": {"isEnabled": False}}).json()
    assert disabled["properties"]["isEnabled"] is False
    assert client.get("default").alert_notifications.state == "Off"


def test_invalid_contacts_are_refused(http: Http, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/securityContacts"
    bad_severity = {"properties": {"alertNotifications": {"state": "On", "minimalSeverity": "Critical"}}}
    resp = http.arm("PUT", f"{path}/default?api-version=2020-01-01-preview", json=bad_severity)
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "InvalidInputError")
    resp = http.arm("PUT", f"{path}/other?api-version=2020-01-01-preview", json={"properties": {}})
    assert resp.status_code == 400
    resp = http.arm(
        "PUT",
        f"{path}/default?api-version=2020-01-01-preview",
        json={"properties": {"emails": "not-an-email"}},
    )
    assert resp.status_code == 400


def test_2017_shape(http: Http, sub_id: str) -> None:
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/securityContacts/default?api-version=2017-08-01-preview"
    props = http.arm("GET", path).json()["properties"]
    assert props == {
        "email": "secops@contoso.com;kv-owners@contoso.com",
        "phone": "+1-425-555-0100",
        "alertNotifications": "On",
        "alertsToAdmins": "On",
    }
