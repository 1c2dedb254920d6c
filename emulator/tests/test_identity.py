"""Entra ID endpoints with the real ClientSecretCredential, and ARM's bearer-token checks."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.mgmt.resource.subscriptions import SubscriptionClient

from emulator.server import EmulatorServer
from emulator.tests.conftest import Http, make_credential


def test_openid_configuration_points_back_at_the_emulator(
    emu: EmulatorServer, http: Http, tenant: dict[str, Any]
) -> None:
    resp = http.arm("GET", f"/{tenant['tenant_id']}/v2.0/.well-known/openid-configuration", auth=False)
    assert resp.status_code == 200
    config = resp.json()
    base = f"{emu.base_url}/{tenant['tenant_id']}"
    assert config["issuer"] == f"{base}/v2.0"
    assert config["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert config["device_authorization_endpoint"].startswith(emu.base_url)


def test_unknown_tenant_is_aadsts90002(http: Http) -> None:
    resp = http.arm(
        "GET", "/00000000-0000-0000-0000-00000000dead/v2.0/.well-known/openid-configuration", auth=False
    )
    assert resp.status_code == 400
    assert resp.json()["error_codes"] == [90002]
    resp = http.arm("POST", "/00000000-0000-0000-0000-00000000dead/oauth2/v2.0/token", auth=False, data={})
    assert resp.status_code == 400
    assert "AADSTS90002" in resp.json()["error_description"]


def test_client_secret_credential_gets_a_token(emu: EmulatorServer, tenant: dict[str, Any]) -> None:
    token = make_credential(emu, tenant).get_token("https://management.azure.com/.default")
    assert token.token.count(".") == 2
    assert token.expires_on > 0


def test_token_endpoint_answer_shape(http: Http, tenant: dict[str, Any]) -> None:
    form = {
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "grant_type": "client_credentials",
        "scope": "https://management.azure.com/.default",
    }
    resp = http.arm("POST", f"/{tenant['tenant_id']}/oauth2/v2.0/token", auth=False, data=form)
    body = resp.json()
    assert resp.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["ext_expires_in"] == 3599
    assert body["access_token"]


def test_wrong_secret_is_invalid_client_with_the_aad_error_shape(http: Http, tenant: dict[str, Any]) -> None:
    form = {
        "client_id": tenant["client_id"],
        "client_secret": "wrong",
        "grant_type": "client_credentials",
        "scope": "https://management.azure.com/.default",
    }
    resp = http.arm("POST", f"/{tenant['tenant_id']}/oauth2/v2.0/token", auth=False, data=form)
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"] == "invalid_client"
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert body["error_codes"] == [7000215]
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body[key]


def test_unknown_client_id_is_aadsts700016(http: Http, tenant: dict[str, Any]) -> None:
    form = {
        "client_id": "11111111-1111-1111-1111-111111111111",
        "client_secret": tenant["client_secret"],
        "grant_type": "client_credentials",
        "scope": "https://management.azure.com/.default",
    }
    resp = http.arm("POST", f"/{tenant['tenant_id']}/oauth2/v2.0/token", auth=False, data=form)
    assert resp.status_code == 400
    assert resp.json()["error_codes"] == [700016]


def test_wrong_secret_raises_client_authentication_error(emu: EmulatorServer, tenant: dict[str, Any]) -> None:
    with pytest.raises(ClientAuthenticationError) as err:
        make_credential(emu, tenant, secret="not-the-secret").get_token(
            "https://management.azure.com/.default"
        )
    assert "AADSTS7000215" in str(err.value)


def test_arm_without_token_is_401_with_challenge(http: Http, sub_id: str) -> None:
    resp = http.arm(
        "GET",
        f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01",
        auth=False,
    )
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert resp.json()["error"]["code"] == "AuthenticationFailed"


def test_arm_with_a_forged_token_is_invalid_authentication_token(http: Http, sub_id: str) -> None:
    resp = http.arm(
        "GET",
        f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01",
        headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.c2ln"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_token_audience_must_be_arm(http: Http, tenant: dict[str, Any], sub_id: str) -> None:
    form = {
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    graph_token = http.arm("POST", f"/{tenant['tenant_id']}/oauth2/v2.0/token", auth=False, data=form).json()
    resp = http.arm(
        "GET",
        f"/subscriptions/{sub_id}?api-version=2022-12-01",
        headers={"Authorization": f"Bearer {graph_token['access_token']}"},
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_principal_sees_its_tenants_subscriptions_and_those_delegated_to_it(
    emu: EmulatorServer,
    credential: Any,
    other_credential: Any,
    tenant: dict[str, Any],
    other_tenant: dict[str, Any],
    security: Any,
    sub_id: str,
    lab_sub_id: str,
) -> None:
    """Fabrikam's lab is delegated to Contoso through Azure Lighthouse (managedByTenants): Contoso's principal sees
    it beside its own; Fabrikam's principal sees only its lab, and Contoso's subscriptions are not found for it."""
    ca = str(emu.ca_path)
    mine = [
        s.subscription_id
        for s in SubscriptionClient(
            credential, base_url=emu.base_url, connection_verify=ca
        ).subscriptions.list()
    ]
    theirs = [
        s.subscription_id
        for s in SubscriptionClient(
            other_credential, base_url=emu.base_url, connection_verify=ca
        ).subscriptions.list()
    ]
    assert mine == [*tenant["subscription_ids"], lab_sub_id]
    assert theirs == other_tenant["subscription_ids"]
    assert list(security(lab_sub_id).alerts.list())  # delegated: readable
    with pytest.raises(ResourceNotFoundError) as err:
        list(security(sub_id, other_credential).alerts.list())
    assert err.value.error is not None and err.value.error.code == "SubscriptionNotFound"


def test_missing_api_version_is_400(http: Http, sub_id: str) -> None:
    resp = http.arm("GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "MissingApiVersionParameter"


@pytest.mark.parametrize("which", ["tenant", "client"])
def test_unknown_tenant_or_client_raise_client_authentication_error(
    emu: EmulatorServer, tenant: dict[str, Any], which: str
) -> None:
    conn = dict(tenant)
    conn["tenant_id" if which == "tenant" else "client_id"] = "22222222-2222-2222-2222-222222222222"
    with pytest.raises(ClientAuthenticationError):
        make_credential(emu, conn).get_token("https://management.azure.com/.default")
