"""Optional single sign-on with Microsoft Entra ID, against the emulator's authorization and token endpoints (the
authorization code flow with PKCE; the id_token's RS256 signature checked against the published keys)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from portal.audit.models import AuditRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso(emulator, settings):
    tenant = emulator.connections[0]
    settings.OIDC_TENANT_ID = tenant["tenant_id"]
    settings.OIDC_CLIENT_ID = tenant["client_id"]
    settings.OIDC_CLIENT_SECRET = tenant["client_secret"]
    settings.OIDC_AUTHORITY = emulator.base_url
    return emulator


def _at_microsoft(emulator, location: str, upn: str) -> str:
    """What the browser does at Entra ID: signs in as `upn`; returns the portal URL it is sent back to."""
    answer = requests.get(
        f"{location}&login_hint={upn}", allow_redirects=False, verify=emulator.ca_path, timeout=10
    )
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def test_sign_in_with_microsoft(client, sso, personas):
    personas.reader.email = "Reader@Contoso.com"
    personas.reader.save()
    assert "Sign in with Microsoft" in client.get(reverse("login")).content.decode()
    start = client.get(reverse("oidc_start") + "?next=/alerts/")
    assert start.status_code == 302 and start["Location"].startswith(sso.base_url)
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    back = _at_microsoft(sso, start["Location"], "reader@contoso.com")
    response = client.get(back)
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    assert client.get("/alerts/").context["user"] == personas.reader
    assert AuditRecord.objects.filter(
        action="auth.login", actor=personas.reader, after__method="entra-id"
    ).exists()
    # the same answer again (a replayed callback) is refused
    client.logout()
    replay = client.get(back, follow=True)
    assert "not started here" in replay.content.decode()
    assert not replay.context["user"].is_authenticated


def test_unknown_users_forged_state_and_a_replayed_code_are_refused(client, sso, personas, settings):
    start = client.get(reverse("oidc_start"))
    back = _at_microsoft(sso, start["Location"], "stranger@contoso.com")
    page = client.get(back, follow=True)
    assert "stranger@contoso.com has no account in this portal" in page.content.decode()
    assert not page.context["user"].is_authenticated
    assert AuditRecord.objects.filter(action="auth.sso_refused").exists()
    # a forged state
    start = client.get(reverse("oidc_start"))
    back = _at_microsoft(sso, start["Location"], "reader@contoso.com")
    forged = back.replace("state=", "state=x")
    page = client.get(forged, follow=True)
    assert "does not match this sign-in (state)" in page.content.decode()
    # the code was not used by the forged attempt's session... a new flow with the old code: the emulator refuses
    client.get(reverse("oidc_start"))
    flow = client.session["oidc_flow"]
    stale = back.split("state=")[0] + f"state={flow['state']}"
    page = client.get(stale, follow=True)
    assert (
        "did not confirm the sign-in" in page.content.decode()
        or "could not be verified" in page.content.decode()
    )
    # optional: unknown users get an account without any role
    settings.OIDC_CREATE_USERS = True
    start = client.get(reverse("oidc_start"))
    back = _at_microsoft(sso, start["Location"], "newcomer@contoso.com")
    assert client.get(back).status_code == 302
    from django.contrib.auth.models import User

    newcomer = User.objects.get(username="newcomer@contoso.com")
    assert not newcomer.has_usable_password() and not newcomer.role_assignments.exists()
    assert client.get(reverse("web:subscriptions")).status_code == 200  # signed in, sees nothing yet


def test_sso_is_off_unless_configured(client):
    assert "Sign in with Microsoft" not in client.get(reverse("login")).content.decode()
    assert client.get(reverse("oidc_start"))["Location"] == reverse("login")
