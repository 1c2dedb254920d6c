"""Optional single sign-on with Microsoft Entra ID (OpenID Connect, authorization code flow with PKCE).

On when OIDC_TENANT_ID and OIDC_CLIENT_ID are set. The id_token is checked (RS256 signature against the tenant's
published keys, issuer, audience, expiry, nonce); the user is the portal account whose e-mail or user name is the
token's `preferred_username`/`email`. With OIDC_CREATE_USERS=1 an unknown user gets an account without any role
(an Owner grants roles); otherwise an unknown user is refused. Roles stay in the portal.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from portal.accounts.services import sso_user_create
from portal.audit.services import audit_record
from portal.web.http import safe_next

SESSION_KEY = "oidc_flow"
TIMEOUT = 10


class SignInRefused(Exception):
    pass


def enabled() -> bool:
    return bool(settings.OIDC_TENANT_ID and settings.OIDC_CLIENT_ID)


def _discovery() -> dict[str, Any]:
    url = f"{settings.OIDC_AUTHORITY.rstrip('/')}/{settings.OIDC_TENANT_ID}/v2.0/.well-known/openid-configuration"
    config = cache.get(f"oidc:{url}")
    if config is None:
        response = requests.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        config = response.json()
        cache.set(f"oidc:{url}", config, timeout=3600)
    return config


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("oidc_callback"))


@login_not_required
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    if not enabled():
        return redirect("login")
    try:
        config = _discovery()
    except (requests.RequestException, ValueError):
        messages.error(
            request, "Microsoft sign-in is not reachable right now; use your portal password or retry."
        )
        return redirect("login")
    verifier = secrets.token_urlsafe(48)
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": verifier,
        "next": request.GET.get("next", ""),
    }
    request.session[SESSION_KEY] = flow
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = urlencode(
        {
            "client_id": settings.OIDC_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": _redirect_uri(request),
            "response_mode": "query",
            "scope": "openid profile email",
            "state": flow["state"],
            "nonce": flow["nonce"],
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return redirect(f"{config['authorization_endpoint']}?{query}")


def _signing_key(jwks_uri: str, kid: str) -> Any:
    """The tenant's published key with this id (fetched with requests, so that the configured CA bundle applies;
    fetched again when a new key id appears: Entra ID rotates its keys)."""
    for refresh in (False, True):
        keys = None if refresh else cache.get(f"oidc-jwks:{jwks_uri}")
        if keys is None:
            response = requests.get(jwks_uri, timeout=TIMEOUT)
            response.raise_for_status()
            keys = response.json()
            cache.set(f"oidc-jwks:{jwks_uri}", keys, timeout=3600)
        for key in jwt.PyJWKSet.from_dict(keys).keys:
            if key.key_id == kid:
                return key.key
    raise SignInRefused("The sign-in token is signed with a key the tenant does not publish.")


def _verify(config: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(id_token).get("kid", "")
    claims = jwt.decode(
        id_token,
        _signing_key(config["jwks_uri"], kid),
        algorithms=["RS256"],
        audience=settings.OIDC_CLIENT_ID,
        issuer=config["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
    )
    if claims.get("nonce") != nonce:
        raise SignInRefused("The sign-in answer was not for this sign-in (nonce).")
    return claims


def _user_for(claims: dict[str, Any]) -> User:
    name = str(claims.get("preferred_username") or claims.get("email") or "").strip()
    if not name:
        raise SignInRefused("Microsoft did not say who signed in (no user name or e-mail in the token).")
    user = (
        User.objects.filter(Q(email__iexact=name) | Q(username__iexact=name)).filter(is_active=True).first()
    )
    if user is None and settings.OIDC_CREATE_USERS:
        user = sso_user_create(name=name)
    if user is None:
        raise SignInRefused(f"{name} has no account in this portal. Ask an administrator to add you.")
    return user


@login_not_required
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    flow = request.session.pop(SESSION_KEY, None)
    try:
        if not enabled() or not flow:
            raise SignInRefused("This sign-in was not started here, or it expired. Start again.")
        if request.GET.get("error"):
            raise SignInRefused(
                f"Microsoft refused the sign-in: {request.GET.get('error_description', '')[:300]}"
            )
        if not secrets.compare_digest(request.GET.get("state", ""), flow["state"]):
            raise SignInRefused("The sign-in answer does not match this sign-in (state).")
        config = _discovery()
        response = requests.post(
            config["token_endpoint"],
            timeout=TIMEOUT,
            data={
                "grant_type": "authorization_code",
                "code": request.GET.get("code", ""),
                "redirect_uri": _redirect_uri(request),
                "client_id": settings.OIDC_CLIENT_ID,
                "client_secret": settings.OIDC_CLIENT_SECRET,
                "code_verifier": flow["verifier"],
            },
        )
        body = response.json()
        if response.status_code != 200 or "id_token" not in body:
            raise SignInRefused(
                f"Microsoft did not confirm the sign-in: {str(body.get('error_description'))[:300]}"
            )
        user = _user_for(_verify(config, body["id_token"], flow["nonce"]))
    except (SignInRefused, jwt.PyJWTError, requests.RequestException, ValueError, KeyError) as exc:
        text = (
            str(exc)
            if isinstance(exc, SignInRefused)
            else f"The sign-in could not be verified ({type(exc).__name__})."
        )
        audit_record(
            actor=None,
            action="auth.sso_refused",
            object_type="auth.user",
            object_repr=text[:150],
            request=request,
        )
        messages.error(request, text)
        return redirect("login")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    audit_record(actor=user, action="auth.login", obj=user, after={"method": "entra-id"}, request=request)
    return redirect(safe_next(request, flow.get("next"), default=reverse("web:home")))
