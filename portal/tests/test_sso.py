"""Optional single sign-on with Microsoft Entra ID, against the emulator's authorization and token endpoints (msal's
authorization code flow with PKCE, state and nonce; the portal's own checks of the id_token).

A Microsoft account is the token's tenant id and object id (tid, oid), bound to one portal account; a user name or
e-mail in the token never signs anyone in as the account of that name (the "nOAuth" account takeover)."""

from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from portal.accounts import login as login_module
from portal.accounts import oidc, services
from portal.accounts.models import SsoIdentity
from portal.audit.models import AuditRecord
from portal.testing.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

ADMIN_HINTS = ["admin", "ADMIN", "Admin@Contoso.Example"]


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Nothing in these tests may reach past loopback (msal must do no instance discovery on the internet)."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", "testserver"):
            raise OSError(f"test tried to reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(autouse=True)
def own_throttle_counters(monkeypatch):
    monkeypatch.setattr(login_module, "KEY_PREFIX", f"sso-test-{uuid.uuid4().hex}", raising=False)


@pytest.fixture
def sso(emulator, settings):
    tenant = emulator.connections[0]
    settings.OIDC_TENANT_ID = tenant["tenant_id"]
    settings.OIDC_CLIENT_ID = tenant["client_id"]
    settings.OIDC_CLIENT_SECRET = tenant["client_secret"]
    settings.OIDC_AUTHORITY = emulator.base_url
    settings.OIDC_CREATE_USERS = False
    emulator.tenant_id = tenant["tenant_id"]
    emulator.signin = emulator.server.runtime.signin
    yield emulator
    emulator.signin.clear_overrides()


def _at_microsoft(emulator, location: str, upn: str) -> str:
    """What the browser does at Entra ID: signs in as `upn`; returns the portal URL it is sent back to."""
    answer = requests.get(
        f"{location}&login_hint={upn}", allow_redirects=False, verify=emulator.ca_path, timeout=10
    )
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def _answer(client, emulator, upn: str, next_url: str = "") -> str:
    """Start "Sign in with Microsoft" in `client` and sign in at Microsoft as `upn`: the callback URL."""
    start = client.get(reverse("oidc_start") + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302 and start["Location"].startswith(emulator.base_url)
    return _at_microsoft(emulator, start["Location"], upn)


def _sign_in(client, emulator, upn: str):
    return client.get(_answer(client, emulator, upn), follow=True)


def _who(client) -> User | None:
    user = client.get(reverse("login"), follow=True).context["user"]
    return user if user.is_authenticated else None


def _person(email: str) -> User:
    """An account (with a password) whose e-mail is `email`; a new user name each run (own throttle counters)."""
    user = make_user(f"rey-{uuid.uuid4().hex[:8]}")
    user.email = email
    user.save()
    return user


def _link_by_admin(emulator, admin: User, user: User, upn: str) -> SsoIdentity:
    """An administrator enters the person's tenant id and object id in the admin (Microsoft sign-ins → Add)."""
    client = Client()
    client.force_login(admin)
    oid = emulator.signin.object_id(emulator.tenant_id, upn)
    response = client.post(
        reverse("admin:accounts_ssoidentity_add"),
        {"user": user.pk, "tenant_id": emulator.tenant_id, "object_id": oid, "upn": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return SsoIdentity.objects.get(user=user)


# --- the finding: a name in the token is not an account ---------------------------------------------------------


@pytest.mark.parametrize("create_users", [False, True])
@pytest.mark.parametrize("hint", ADMIN_HINTS)
def test_regression_a_name_like_the_superusers_signs_in_as_nobody(
    client, sso, personas, settings, hint, create_users
):
    """Before: login_hint=admin (ADMIN, Admin@Contoso.Example) gave a session as the superuser `admin`."""
    settings.OIDC_CREATE_USERS = create_users
    admin = User.objects.create_superuser("admin", "admin@contoso.example", PASSWORD)
    accounts = User.objects.count()
    page = _sign_in(client, sso, hint)
    assert _who(client) is None
    assert "is not linked to an account of this portal" in page.content.decode()
    assert (
        not SsoIdentity.objects.exists() and User.objects.count() == accounts
    )  # nobody linked, nobody created
    assert AuditRecord.objects.filter(action="auth.sso_refused").exists()
    assert not AuditRecord.objects.filter(action="auth.login", actor=admin).exists()


@pytest.mark.parametrize("hint", ["owner", "OWNER", "owner@example.test"])
def test_regression_a_name_like_an_accounts_signs_in_as_nobody(client, sso, personas, hint):
    """Before: login_hint=owner gave a session as `owner`. Now: a page asking for owner's password to link."""
    page = _sign_in(client, sso, hint)
    assert _who(client) is None
    assert page.redirect_chain[-1][0] == reverse("oidc_link")
    assert "Sign in with your password to link this Microsoft account" in page.content.decode()
    assert 'value="owner"' not in page.content.decode()  # the account is not named to them
    assert not SsoIdentity.objects.exists()


# --- bound accounts ---------------------------------------------------------------------------------------------


def test_an_administrator_links_an_account_by_tenant_and_object_id(client, sso, personas):
    identity = _link_by_admin(sso, personas.superuser, personas.reader, "rey@contoso.com")
    assert identity.linked_how == "admin" and identity.linked_by == personas.superuser
    assert AuditRecord.objects.filter(
        action="auth.sso_linked", actor=personas.superuser, after__user="reader", after__how="admin"
    ).exists()
    start = client.get(reverse("oidc_start") + "?next=/alerts/")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert query["state"] and query["nonce"] and "offline_access" not in query["scope"][0]
    response = client.get(_at_microsoft(sso, start["Location"], "rey@contoso.com"))
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    assert _who(client) == personas.reader
    assert AuditRecord.objects.filter(
        action="auth.login",
        actor=personas.reader,
        after__method="entra-id",
        after__object_id=str(identity.object_id),
    ).exists()
    identity.refresh_from_db()
    assert identity.upn == "rey@contoso.com" and identity.last_sign_in_at is not None
    # the name in the token is not what binds: Microsoft renames the user, the same oid is still the reader
    client.logout()
    oid = str(identity.object_id)
    sso.signin.claim_overrides = {"preferred_username": "owner", "email": "owner@example.test"}
    _sign_in(client, sso, "rey@contoso.com")
    assert _who(client) == personas.reader
    # and the same name in another tenant is another person: Fabrikam's rey is not the reader
    assert sso.signin.object_id(sso.connections[1]["tenant_id"], "rey@contoso.com") != oid


def test_only_administrators_see_the_identities_admin(client, sso, personas):
    for who in (personas.owner, personas.secadmin):
        client.force_login(who)
        assert client.get(reverse("admin:accounts_ssoidentity_changelist")).status_code in (302, 403)
        assert client.post(
            reverse("admin:accounts_ssoidentity_add"),
            {"user": who.pk, "tenant_id": sso.tenant_id, "object_id": str(uuid.uuid4())},
        ).status_code in (302, 403)
    assert not SsoIdentity.objects.exists()
    with pytest.raises(PermissionDenied):
        services.sso_identity_link(
            actor=personas.owner,
            user=personas.owner,
            tenant_id=sso.tenant_id,
            object_id=uuid.uuid4(),
            how=SsoIdentity.LinkedHow.ADMIN,
        )
    # one Microsoft account, one portal account
    identity = _link_by_admin(sso, personas.superuser, personas.reader, "rey@contoso.com")
    client.force_login(personas.superuser)
    page = client.post(
        reverse("admin:accounts_ssoidentity_add"),
        {"user": personas.secadmin.pk, "tenant_id": sso.tenant_id, "object_id": str(identity.object_id)},
    )
    assert page.status_code == 200 and "already linked" in page.content.decode()
    # changing it is an unlink and a link (both audited)
    new_oid = sso.signin.object_id(sso.tenant_id, "rey.new@contoso.com")
    changed = client.post(
        reverse("admin:accounts_ssoidentity_change", args=[identity.pk]),
        {"user": personas.reader.pk, "tenant_id": sso.tenant_id, "object_id": new_oid, "upn": ""},
    )
    assert changed.status_code == 302
    identity = SsoIdentity.objects.get(user=personas.reader)
    assert str(identity.object_id) == new_oid
    assert AuditRecord.objects.filter(action="auth.sso_unlinked", actor=personas.superuser).count() == 1
    assert AuditRecord.objects.filter(action="auth.sso_linked", actor=personas.superuser).count() == 2
    other = Client()
    _sign_in(other, sso, "rey.new@contoso.com")
    assert _who(other) == personas.reader
    # unlinking is audited, and the person no longer signs in
    client.post(reverse("admin:accounts_ssoidentity_delete", args=[identity.pk]), {"post": "yes"})
    assert not SsoIdentity.objects.exists()
    assert AuditRecord.objects.filter(action="auth.sso_unlinked", actor=personas.superuser).count() == 2
    other = Client()
    _sign_in(other, sso, "rey.new@contoso.com")
    assert _who(other) is None


def test_the_person_links_their_account_with_its_password(client, sso, personas):
    rey = _person("rey.reader@contoso.example")
    page = _sign_in(client, sso, "Rey.Reader@Contoso.Example")
    assert page.redirect_chain[-1][0] == reverse("oidc_link") and _who(client) is None
    body = page.content.decode()
    assert "Sign in with your password to link this Microsoft account" in body
    assert "Rey.Reader@Contoso.Example" in body and sso.tenant_id in body
    # nothing to confirm before the password
    assert client.get(reverse("oidc_link_confirm"))["Location"].startswith(reverse("login"))
    # a wrong password: no session, no link
    wrong = client.post(reverse("oidc_link"), {"username": rey.username, "password": "not-it"})
    assert wrong.status_code == 200 and wrong.context["form"].errors and _who(client) is None
    # the password: signed in, then asked
    right = client.post(reverse("oidc_link"), {"username": rey.username, "password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == reverse("oidc_link_confirm")
    confirm = client.get(reverse("oidc_link_confirm")).content.decode()
    assert (
        f"Link the Microsoft account Rey.Reader@Contoso.Example (tenant <code>{sso.tenant_id}</code>) to {rey.username}?"
        in confirm
    )
    assert not SsoIdentity.objects.exists()  # not before the POST
    done = client.post(reverse("oidc_link_confirm"), {"action": "link"})
    assert done.status_code == 302
    identity = SsoIdentity.objects.get(user=rey)
    assert identity.linked_how == "password" and identity.upn == "Rey.Reader@Contoso.Example"
    assert str(identity.object_id) == sso.signin.object_id(sso.tenant_id, "rey.reader@contoso.example")
    assert AuditRecord.objects.filter(action="auth.sso_linked", actor=rey, after__how="password").exists()
    # once: the confirmation is gone
    assert client.post(reverse("oidc_link_confirm"), {"action": "link"})["Location"] == reverse("web:home")
    # from now on Microsoft signs them in, even under another name
    other = Client()
    sso.signin.claim_overrides = {"preferred_username": "rey@elsewhere.example", "email": None}
    _sign_in(other, sso, "Rey.Reader@Contoso.Example")
    assert _who(other) == rey


def test_declining_or_waiting_too_long_links_nothing(client, sso, personas):
    rey = _person("rey2@contoso.example")
    _sign_in(client, sso, "rey2@contoso.example")
    client.post(reverse("oidc_link"), {"username": rey.username, "password": PASSWORD})
    client.post(reverse("oidc_link_confirm"), {"action": "cancel"})
    assert not SsoIdentity.objects.exists()
    # a Microsoft sign-in left waiting past LINK_SECONDS is gone
    client.logout()
    _sign_in(client, sso, "rey2@contoso.example")
    session = client.session
    session[oidc.LINK_KEY] = {**session[oidc.LINK_KEY], "expires": time.time() - 1}
    session.save()
    late = client.post(reverse("oidc_link"), {"username": rey.username, "password": PASSWORD})
    assert late["Location"] == reverse("login") and _who(client) is None
    # and a link page nobody was sent to
    assert Client().get(reverse("oidc_link"))["Location"] == reverse("login")


def test_a_superuser_is_never_linked_automatically(client, sso, personas, settings):
    settings.OIDC_CREATE_USERS = True
    root = personas.superuser
    # a token naming the superuser: refused, no password page, no account made
    for hint in ("root", "ROOT@example.test"):
        page = _sign_in(client, sso, hint)
        assert _who(client) is None and "is not linked to an account of this portal" in page.content.decode()
    assert (
        not SsoIdentity.objects.exists()
        and not User.objects.filter(username__iexact="ROOT@example.test").exists()
    )
    # the password page proves the superuser's password: still not linked, not signed in
    _person("rey3@contoso.example")
    _sign_in(client, sso, "rey3@contoso.example")
    page = client.post(reverse("oidc_link"), {"username": root.username, "password": PASSWORD})
    assert page.status_code == 200 and "only by an administrator" in page.content.decode()
    assert _who(client) is None and not SsoIdentity.objects.exists()
    with pytest.raises(PermissionDenied):
        services.sso_identity_link(
            actor=root,
            user=root,
            tenant_id=sso.tenant_id,
            object_id=uuid.uuid4(),
            how=SsoIdentity.LinkedHow.PASSWORD,
        )
    # an administrator may link a superuser, in the admin
    _link_by_admin(sso, root, root, "root-admin@contoso.com")
    _sign_in(client, sso, "root-admin@contoso.com")
    assert _who(client) == root


def test_unknown_people_follow_oidc_create_users(client, sso, personas, settings):
    page = _sign_in(client, sso, "stranger@contoso.com")
    assert (
        "stranger@contoso.com has no account in this portal. Ask an administrator to add you."
        in page.content.decode()
    )
    assert _who(client) is None and not User.objects.filter(username="stranger@contoso.com").exists()
    settings.OIDC_CREATE_USERS = True
    response = client.get(_answer(client, sso, "newcomer@contoso.com"))
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer@contoso.com")
    assert _who(client) == newcomer
    assert not newcomer.has_usable_password() and not newcomer.role_assignments.exists()
    identity = newcomer.sso_identity
    assert identity.linked_how == "created" and str(identity.tenant_id) == sso.tenant_id
    assert str(identity.object_id) == sso.signin.object_id(sso.tenant_id, "newcomer@contoso.com")
    assert client.get(reverse("web:subscriptions")).status_code == 200  # signed in, sees nothing yet
    # the next sign-in is the same account, whatever Microsoft now calls them
    other = Client()
    sso.signin.claim_overrides = {"preferred_username": "new.name@contoso.com", "email": None}
    _sign_in(other, sso, "newcomer@contoso.com")
    assert _who(other) == newcomer and User.objects.filter(username__startswith="new").count() == 1


# --- the id_token ---------------------------------------------------------------------------------------------


def _bad_tokens(emulator):
    now = int(time.time())
    fabrikam = emulator.connections[1]["tenant_id"]
    return {
        "wrong issuer": {"iss": f"{emulator.base_url}/{fabrikam}/v2.0", "tid": fabrikam},
        "another tenant's user": {"tid": fabrikam},
        "wrong audience": {"aud": str(uuid.uuid4())},
        "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
        "not yet valid": {"iat": now + 3600, "nbf": now + 3600},
        "wrong nonce": {"nonce": "0" * 64},
        "no nonce": {"nonce": None},
        "no oid": {"oid": None},
        "no tid": {"tid": None},
        "oid not a guid": {"oid": "root"},
    }


BAD = [
    "wrong issuer",
    "another tenant's user",
    "wrong audience",
    "expired",
    "not yet valid",
    "wrong nonce",
    "no nonce",
    "no oid",
    "no tid",
    "oid not a guid",
    "bad signature",
]


@pytest.mark.parametrize("case", BAD)
def test_a_token_failing_a_check_is_refused(client, sso, personas, case):
    _link_by_admin(sso, personas.superuser, personas.reader, "rey@contoso.com")
    if case == "bad signature":  # signed with a key the tenant does not publish, under its key id
        sso.signin.forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        sso.signin.claim_overrides = _bad_tokens(sso)[case]
    page = _sign_in(client, sso, "rey@contoso.com")
    assert _who(client) is None, case
    assert AuditRecord.objects.filter(action="auth.sso_refused").exists()
    assert not AuditRecord.objects.filter(action="auth.login").exists()
    assert "sign-in" in page.content.decode().lower()
    # the same person with a good token signs in
    sso.signin.clear_overrides()
    _sign_in(client, sso, "rey@contoso.com")
    assert _who(client) == personas.reader


def test_the_portal_checks_the_nonce_and_the_algorithm_itself(sso):
    """msal checks the nonce too; the portal does not rely on it."""
    from emulator.signin import Grant

    issuer = f"{sso.base_url}/{sso.tenant_id}/v2.0"
    grant = Grant(
        sso.tenant_id, sso.connections[0]["client_id"], "", oidc._nonce_sent("mine"), "", "rey@contoso.com", 0
    )
    token = sso.signin.id_token(issuer, grant)
    assert oidc.verify_id_token(token, "mine")["oid"] == sso.signin.object_id(
        sso.tenant_id, "rey@contoso.com"
    )
    with pytest.raises(oidc.SignInRefused, match="nonce"):
        oidc.verify_id_token(token, "theirs")
    # and only RS256: an unsigned token with the same claims is refused
    claims = jwt.decode(token, options={"verify_signature": False})
    with pytest.raises(oidc.SignInRefused, match="RS256"):
        oidc.verify_id_token(jwt.encode(claims, None, algorithm="none"), "mine")


# --- the flow: state, PKCE, one answer per sign-in --------------------------------------------------------------


def test_replayed_forged_and_foreign_callbacks_are_refused(client, sso, personas):
    _link_by_admin(sso, personas.superuser, personas.reader, "rey@contoso.com")
    back = _answer(client, sso, "rey@contoso.com")
    assert client.get(back).status_code == 302 and _who(client) == personas.reader
    # the same answer again (a replayed callback)
    client.logout()
    replay = client.get(back, follow=True)
    assert "not started here" in replay.content.decode() and _who(client) is None
    # someone else's answer, in a browser that started no sign-in
    theirs = _answer(Client(), sso, "rey@contoso.com")
    page = Client().get(theirs, follow=True)
    assert "not started here" in page.content.decode() and not page.context["user"].is_authenticated
    # someone else's answer, in a browser that started its own sign-in (login CSRF): state
    client.get(reverse("oidc_start"))
    page = client.get(theirs, follow=True)
    assert "does not match this sign-in (state)" in page.content.decode() and _who(client) is None
    # a forged state (not even ASCII)
    back = _answer(client, sso, "rey@contoso.com")
    page = client.get(back.replace("state=", "state=%C3%A9"), follow=True)
    assert "does not match this sign-in (state)" in page.content.decode() and _who(client) is None
    # someone else's code under this browser's state: the code was issued for their PKCE challenge
    theirs = _answer(Client(), sso, "rey@contoso.com")
    client.get(reverse("oidc_start"))
    mine = client.session[oidc.SESSION_KEY]["flow"]["state"]
    page = client.get(theirs.split("state=")[0] + f"state={mine}", follow=True)
    assert "did not confirm the sign-in" in page.content.decode() and _who(client) is None
    assert "Code_Verifier does not match" in page.content.decode()
    # Microsoft's refusal
    client.get(reverse("oidc_start"))
    page = client.get(
        reverse("oidc_callback") + "?error=access_denied&error_description=User+cancelled", follow=True
    )
    assert "Microsoft refused the sign-in: User cancelled" in page.content.decode()
    assert AuditRecord.objects.filter(action="auth.sso_refused").count() >= 5


def test_an_unreachable_authority_is_said_so(client, sso, settings):
    settings.OIDC_AUTHORITY = "https://127.0.0.1:9"  # nothing listens there
    page = client.get(reverse("oidc_start"), follow=True)
    assert "Microsoft sign-in is not reachable right now" in page.content.decode()
    assert not page.context["user"].is_authenticated


def test_sso_is_off_unless_configured(client):
    assert "Sign in with Microsoft" not in client.get(reverse("login")).content.decode()
    assert client.get(reverse("oidc_start"))["Location"] == reverse("login")
