"""Optional single sign-on with Microsoft Entra ID (OpenID Connect, authorization code flow with PKCE, state and
nonce, run by msal's ConfidentialClientApplication).

On when OIDC_TENANT_ID and OIDC_CLIENT_ID are set. msal no longer validates the id_token's claims (only its nonce),
so the portal checks it itself: RS256 signature against the keys the tenant publishes, issuer and `tid` of the
configured tenant, audience (OIDC_CLIENT_ID), expiry, nonce, and that `tid` and `oid` are there.

Who is signed in: the portal account bound to the token's tenant id and object id (`tid`, `oid`: immutable, unique;
an `SsoIdentity`), never the one whose user name or e-mail equals the token's `preferred_username`/`email` (mutable,
and anyone's in another tenant). A Microsoft account nobody linked yet:

* whose name or e-mail looks like an existing account's: "Sign in with your password to link this Microsoft
  account" (`link`), then "Link the Microsoft account … to …?" (`link_confirm`, a POST; audited). A superuser, an
  account already linked, or one without a password is never linked this way: an administrator links it in the
  admin (Microsoft sign-ins), by tenant id and object id;
* otherwise, with OIDC_CREATE_USERS=1, a new account without any role, bound to them; else refused.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
import warnings
from typing import Any
from urllib.parse import urlsplit

import jwt
import msal  # type: ignore[import-untyped]  # msal has no type hints (no py.typed) and no stubs package
import requests
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_GET, require_http_methods

from portal.accounts import services
from portal.accounts.login import LoginView, ThrottledAuthenticationForm
from portal.accounts.models import SsoIdentity
from portal.audit.services import audit_record
from portal.web.formfields import cleaned
from portal.web.http import AuthedRequest, safe_next

SESSION_KEY = "oidc_flow"  # the flow msal started (state, PKCE verifier, nonce) and where to go after
LINK_KEY = "oidc_link"  # a Microsoft account waiting to be linked to the account the person proves
LINK_SECONDS = 600
TIMEOUT = 10
LEEWAY = 60  # seconds of clock skew allowed on exp/nbf/iat
SCOPES = ["email"]  # msal adds openid and profile (offline_access is excluded: no refresh token is wanted)
BACKEND = "django.contrib.auth.backends.ModelBackend"

NOT_LINKED = (
    "The Microsoft account {upn} is not linked to an account of this portal. Ask an administrator to link it "
    "(Administration → Users and roles → Microsoft sign-ins)."
)


class SignInRefused(Exception):
    pass


def enabled() -> bool:
    return bool(settings.OIDC_TENANT_ID and settings.OIDC_CLIENT_ID)


# --- msal -----------------------------------------------------------------------------------------------------


class _NoTokenCache(msal.TokenCache):  # type: ignore[misc]  # msal.TokenCache is Any to mypy (msal untyped)
    """The id_token is used once, to sign the person in; msal keeps no tokens in the long-lived application."""

    def add(self, event: dict[str, Any], **kwargs: Any) -> None:
        return None


_apps: dict[tuple[str, str, str], msal.ConfidentialClientApplication] = {}
_apps_lock = threading.Lock()


def _authority() -> str:
    return f"{settings.OIDC_AUTHORITY.rstrip('/')}/{settings.OIDC_TENANT_ID}"


def _app() -> msal.ConfidentialClientApplication:
    """One msal application per configuration (msal fetches the tenant's OpenID configuration when it is made).
    No instance discovery (it would ask login.microsoftonline.com about the authority), no region detection; the
    HTTPS calls go through requests, so REQUESTS_CA_BUNDLE applies as for the rest of the portal."""
    key = (_authority(), settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET)
    app = _apps.get(key)
    if app is None:
        app = msal.ConfidentialClientApplication(
            settings.OIDC_CLIENT_ID,
            client_credential=settings.OIDC_CLIENT_SECRET,
            authority=_authority(),
            instance_discovery=False,
            azure_region=False,
            exclude_scopes=["offline_access"],
            token_cache=_NoTokenCache(),
            timeout=TIMEOUT,
        )
        with _apps_lock:
            _apps.clear()  # the configuration changed: the previous application is not needed any more
            _apps[key] = app
    return app


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("oidc_callback"))


# --- the id_token ---------------------------------------------------------------------------------------------


def _discovery() -> dict[str, Any]:
    url = f"{_authority()}/v2.0/.well-known/openid-configuration"
    config: dict[str, Any] | None = cache.get(f"oidc:{url}")
    if config is None:
        response = requests.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        config = response.json()
        cache.set(f"oidc:{url}", config, timeout=3600)
    return config


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


def _nonce_sent(nonce: str) -> str:
    """What msal sends as the nonce (and Entra ID echoes in the id_token): the SHA-256 of the flow's nonce."""
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


def verify_id_token(id_token: str, nonce: str) -> dict[str, Any]:
    """The id_token's claims, once its signature, issuer, tenant, audience, expiry and nonce are checked; raises
    SignInRefused or jwt.PyJWTError. `nonce` is the flow's (msal's) nonce."""
    config = _discovery()
    header = jwt.get_unverified_header(id_token)
    if header.get("alg") != "RS256":
        raise SignInRefused("The sign-in token is not signed the way Entra ID signs (RS256).")
    claims = jwt.decode(
        id_token,
        _signing_key(config["jwks_uri"], str(header.get("kid", ""))),
        algorithms=["RS256"],
        audience=settings.OIDC_CLIENT_ID,
        issuer=config["issuer"],
        leeway=LEEWAY,
        options={"require": ["exp", "iat", "iss", "aud", "nonce", "tid", "oid"]},
    )
    if not secrets.compare_digest(str(claims["nonce"]).encode(), _nonce_sent(nonce).encode()):
        raise SignInRefused("The sign-in answer was not for this sign-in (nonce).")
    try:
        tid, oid = uuid.UUID(str(claims["tid"])), uuid.UUID(str(claims["oid"]))
        tenant = uuid.UUID(urlsplit(config["issuer"]).path.strip("/").split("/")[0])
    except ValueError as exc:
        raise SignInRefused(
            "The sign-in token does not name one tenant and user (tid, oid), or OIDC_TENANT_ID names no single "
            "tenant."
        ) from exc
    if tid != tenant:
        raise SignInRefused("The sign-in token is from another tenant.")
    return {**claims, "tid": str(tid), "oid": str(oid)}


# --- who is signed in -----------------------------------------------------------------------------------------


def _upn(claims: dict[str, Any]) -> str:
    return str(claims.get("preferred_username") or claims.get("email") or "").strip()


def _look_alikes(claims: dict[str, Any]) -> list[User]:
    """Accounts whose user name or e-mail is the token's preferred_username or email (a hint, never a binding)."""
    names = {str(claims.get(c) or "").strip() for c in ("preferred_username", "email")} - {""}
    query = Q()
    for name in names:
        query |= Q(username__iexact=name) | Q(email__iexact=name)
    return list(User.objects.filter(query)) if names else []


def _resolve(request: HttpRequest, claims: dict[str, Any], next_url: str) -> User | None:
    """The account to sign in, or None when the person was sent to link one (a pending link in the session)."""
    tid, oid, upn = claims["tid"], claims["oid"], _upn(claims)
    identity = SsoIdentity.objects.select_related("user").filter(tenant_id=tid, object_id=oid).first()
    if identity is not None:
        if not identity.user.is_active:
            raise SignInRefused("The portal account of this Microsoft account is disabled.")
        services.sso_identity_signed_in(identity=identity, upn=upn)
        return identity.user
    look_alikes = _look_alikes(claims)
    if look_alikes:
        linkable = all(
            u.is_active
            and not u.is_superuser
            and u.has_usable_password()
            and not SsoIdentity.objects.filter(user=u).exists()
            for u in look_alikes
        )
        if not linkable:
            raise SignInRefused(NOT_LINKED.format(upn=upn or oid))
        request.session[LINK_KEY] = {
            "tid": tid,
            "oid": oid,
            "upn": upn,
            "expires": time.time() + LINK_SECONDS,
            "next": next_url,
        }
        audit_record(
            actor=None,
            action="auth.sso_link_offered",
            object_type="accounts.ssoidentity",
            object_repr=f"{upn} (tenant {tid}, object {oid})"[:300],
            request=request,
        )
        return None
    if not settings.OIDC_CREATE_USERS:
        raise SignInRefused(f"{upn or oid} has no account in this portal. Ask an administrator to add you.")
    if not upn:
        raise SignInRefused("Microsoft did not say who signed in (no user name or e-mail in the token).")
    try:
        return services.sso_user_create(name=upn, tenant_id=tid, object_id=oid, request=request)
    except IntegrityError as exc:
        raise SignInRefused(NOT_LINKED.format(upn=upn)) from exc


def _refuse(request: HttpRequest, text: str) -> HttpResponse:
    audit_record(
        actor=None,
        action="auth.sso_refused",
        object_type="auth.user",
        object_repr=text[:150],
        request=request,
    )
    messages.error(request, text)
    return redirect("login")


# --- views ----------------------------------------------------------------------------------------------------


class CallbackForm(forms.Form):
    """What Microsoft's answer and the sign-in link carry that the portal reads itself."""

    next = forms.CharField(required=False, max_length=2000)
    state = forms.CharField(required=False, max_length=500)
    error = forms.CharField(required=False, max_length=200)
    error_description = forms.CharField(required=False)


class LinkForm(forms.Form):
    action = forms.ChoiceField(required=False, choices=[("link", "Link"), ("cancel", "Cancel")])


@login_not_required
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    if not enabled():
        return redirect("login")
    try:
        with warnings.catch_warnings():
            # msal recommends response_mode=form_post; the portal takes the answer in the query: a cross-site POST
            # from Microsoft would not carry the session cookie (SameSite=Lax) that holds the flow. The code in the
            # query is good once, only with this flow's PKCE verifier and the client secret.
            warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
            flow = _app().initiate_auth_code_flow(SCOPES, redirect_uri=_redirect_uri(request))
    except (requests.RequestException, msal.exceptions.MsalError, ValueError, KeyError):
        messages.error(
            request, "Microsoft sign-in is not reachable right now; use your portal password or retry."
        )
        return redirect("login")
    request.session[SESSION_KEY] = {"flow": flow, "next": cleaned(CallbackForm(request.GET), "next", "")}
    return redirect(flow["auth_uri"])


@login_not_required
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    started = request.session.pop(SESSION_KEY, None)  # one answer per flow: a replayed callback finds none
    flow = started.get("flow") if isinstance(started, dict) else None
    next_url = started.get("next", "") if isinstance(started, dict) else ""
    try:
        if not enabled() or not isinstance(flow, dict) or not flow.get("state"):
            raise SignInRefused("This sign-in was not started here, or it expired. Start again.")
        answer = CallbackForm(request.GET)
        answer.is_valid()
        if answer.cleaned_data.get("error"):
            raise SignInRefused(
                f"Microsoft refused the sign-in: {answer.cleaned_data.get('error_description', '')[:300]}"
            )
        if not secrets.compare_digest(
            answer.cleaned_data.get("state", "").encode(), str(flow["state"]).encode()
        ):
            raise SignInRefused("The sign-in answer does not match this sign-in (state).")
        nonce = str(flow["nonce"])
        try:
            # msal checks the state again, sends the PKCE verifier with the code, and checks the nonce
            # the authorization response as Microsoft sent it: msal validates it whole (a listed exception of the
            # forms rule, tests/test_write_paths.py)
            result = _app().acquire_token_by_auth_code_flow(flow, request.GET.dict())
        except RuntimeError as exc:  # msal: the id_token's nonce is not this flow's
            raise SignInRefused("The sign-in answer was not for this sign-in (nonce).") from exc
        if "error" in result or "id_token" not in result:
            raise SignInRefused(
                f"Microsoft did not confirm the sign-in: {str(result.get('error_description'))[:300]}"
            )
        claims = verify_id_token(result["id_token"], nonce)
        user = _resolve(request, claims, next_url)
    except (
        SignInRefused,
        jwt.PyJWTError,
        requests.RequestException,
        msal.exceptions.MsalError,
        ValueError,
        KeyError,
    ) as exc:
        text = (
            str(exc)
            if isinstance(exc, SignInRefused)
            else f"The sign-in could not be verified ({type(exc).__name__})."
        )
        return _refuse(request, text)
    if user is None:
        return redirect("oidc_link")
    login(request, user, backend=BACKEND)
    audit_record(
        actor=user,
        action="auth.login",
        obj=user,
        after={"method": "entra-id", "tenant_id": claims["tid"], "object_id": claims["oid"]},
        request=request,
    )
    return redirect(safe_next(request, next_url, default=reverse("web:home")))


# --- linking an existing account by its password --------------------------------------------------------------


def _pending_link(request: HttpRequest) -> dict[str, Any] | None:
    pending = request.session.get(LINK_KEY)
    if not isinstance(pending, dict) or not {"tid", "oid", "upn", "expires"} <= pending.keys():
        return None
    if time.time() > float(pending["expires"]):
        request.session.pop(LINK_KEY, None)
        return None
    return pending


@method_decorator(login_not_required, name="dispatch")
class LinkSignInView(LoginView):
    """ "Sign in with your password to link this Microsoft account": the portal's throttled, audited sign-in, for a
    Microsoft account that signed in but is not linked yet. Leads to the confirmation."""

    template_name = "registration/sso_link.html"
    redirect_authenticated_user = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if _pending_link(request) is None:
            messages.error(
                request, "No Microsoft sign-in is waiting to be linked, or it expired. Start again."
            )
            return redirect("login")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "link": _pending_link(self.request)}

    def get_success_url(self) -> str:
        return reverse("oidc_link_confirm")

    def form_valid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if user.is_superuser:
            form.add_error(
                None,
                "An administrator account is linked to a Microsoft account only by an administrator, in the admin.",
            )
            return self.form_invalid(form)
        if SsoIdentity.objects.filter(user=user).exists():
            form.add_error(
                None,
                f"{user.get_username()} is already linked to a Microsoft account. An administrator can change it.",
            )
            return self.form_invalid(form)
        pending = self.request.session.pop(LINK_KEY)  # signing in may start a new session: carried over
        response = super().form_valid(form)
        self.request.session[LINK_KEY] = {**pending, "user": user.pk}
        return response


link = LinkSignInView.as_view()


@require_http_methods(["GET", "POST"])
def link_confirm(request: AuthedRequest) -> HttpResponse:
    """ "Link the Microsoft account <upn> (tenant …) to <username>?", for the account just proven with its password."""
    pending = _pending_link(request)
    if pending is None or pending.get("user") != request.user.pk:
        messages.error(
            request, "No Microsoft account is waiting to be linked to your account, or it expired."
        )
        return redirect("web:home")
    if request.method == "GET":
        return render(request, "registration/sso_link_confirm.html", {"link": pending})
    request.session.pop(LINK_KEY, None)
    if cleaned(LinkForm(request.POST), "action", "") != "link":
        messages.info(request, "The Microsoft account was not linked.")
        return redirect("web:home")
    try:
        services.sso_identity_link(
            actor=request.user,
            user=request.user,
            tenant_id=pending["tid"],
            object_id=pending["oid"],
            how=SsoIdentity.LinkedHow.PASSWORD,
            upn=pending["upn"],
            request=request,
        )
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"Not linked: {text}")
        return redirect("web:home")
    messages.success(
        request,
        f"Linked: “Sign in with Microsoft” as {pending['upn']} now signs you in as {request.user.get_username()}.",
    )
    return redirect(safe_next(request, pending.get("next"), default=reverse("web:home")))
