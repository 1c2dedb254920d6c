"""Entra ID user sign-in for the portal's single sign-on: the authorization code flow with PKCE, id_tokens signed
RS256 with a per-process key published as JWKS. There is no sign-in page: the emulator signs in the user named by
`login_hint` (default `analyst@<tenant domain>`) at once, as an already-consented tenant would.

As in Entra ID, the id_token's `tid` is the tenant and its `oid` the user's object id: stable for one user of one tenant
(derived from the tenant and the lower-cased UPN), different for the same name in another tenant; `sub` is pairwise
(per application). `preferred_username` and `email` are just the `login_hint`, as mutable as Entra ID's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .state import EmulatorState, Tenant
from .web import Request, Response, json_response

CODE_LIFETIME = 300
ID_TOKEN_LIFETIME = 3600


@dataclass
class Grant:
    tenant_id: str
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    upn: str
    expires: float


class SignInService:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        self._codes: dict[str, Grant] = {}
        self._lock = threading.Lock()
        # Tests only (in-process): change the claims of the id_tokens issued from now on (a value of None removes
        # the claim; a callable gets the claims and returns the new ones), or sign them with another key under the
        # published key id (a forged signature). `clear_overrides()` puts them back.
        self.claim_overrides: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] = {}
        self.forged_key: rsa.RSAPrivateKey | None = None

    def clear_overrides(self) -> None:
        self.claim_overrides = {}
        self.forged_key = None

    @staticmethod
    def object_id(tenant_id: str, upn: str) -> str:
        """The `oid` of the user `upn` of this tenant (what an administrator reads in Entra ID's user page)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"entra-user:{tenant_id.lower()}/{upn.lower()}"))

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def new_code(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._codes = {c: g for c, g in self._codes.items() if g.expires > now}
            self._codes[code] = grant
        return code

    def take(self, code: str) -> Grant | None:
        with self._lock:
            grant = self._codes.pop(code, None)  # a code is used once
        return grant if grant and grant.expires > time.time() else None

    def id_token(self, issuer: str, grant: Grant) -> str:
        now = int(time.time())
        oid = self.object_id(grant.tenant_id, grant.upn)
        pairwise = hashlib.sha256(f"{grant.client_id.lower()}/{oid}".encode()).digest()
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": grant.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "sub": base64.urlsafe_b64encode(pairwise).decode().rstrip("="),
            "oid": oid,
            "tid": grant.tenant_id,
            "nonce": grant.nonce,
            "ver": "2.0",
            "preferred_username": grant.upn,
            "email": grant.upn,
            "name": grant.upn.split("@")[0].title(),
        }
        overrides = self.claim_overrides
        if callable(overrides):
            claims = overrides(claims)
        else:
            claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.forged_key or self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})


def _error(status: int, code: str, description: str) -> Response:
    return json_response(status, {"error": code, "error_description": description})


def authorize(tenant: Tenant | None, svc: SignInService, req: Request) -> Response:
    if tenant is None:
        return _error(400, "invalid_tenant", "AADSTS90002: Tenant not found.")
    p = {
        k: req.param(k) or ""
        for k in (
            "client_id",
            "redirect_uri",
            "response_type",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "login_hint",
            "scope",
        )
    }
    if p["client_id"].lower() != tenant.client_id.lower():
        return _error(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{p['client_id']}' was not found in the directory.",
        )
    target = urlsplit(p["redirect_uri"])
    if target.scheme not in ("http", "https") or not target.netloc:
        return _error(400, "invalid_request", "AADSTS50011: The redirect URI is not valid.")
    if p["response_type"] != "code" or "openid" not in p["scope"].split():
        return _error(
            400, "unsupported_response_type", "AADSTS700054: response_type 'code' with scope openid."
        )
    if p["code_challenge_method"] != "S256" or not p["code_challenge"]:
        return _error(400, "invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required.")
    upn = p["login_hint"] or f"analyst@{tenant.domain}"
    code = svc.new_code(
        Grant(
            tenant.tenant_id,
            tenant.client_id,
            p["redirect_uri"],
            p["nonce"],
            p["code_challenge"],
            upn,
            time.time() + CODE_LIFETIME,
        )
    )
    location = (
        p["redirect_uri"]
        + ("&" if "?" in p["redirect_uri"] else "?")
        + urlencode({"code": code, "state": p["state"]})
    )
    return Response(302, b"", [("Location", location)], content_type=None)


def exchange(
    tenant: Tenant, svc: SignInService, req: Request, form: dict[str, str], client_secret: str
) -> Response:
    """grant_type=authorization_code at the token endpoint."""
    if not hmac.compare_digest((client_secret or "").encode(), tenant.client_secret.encode()):
        return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    grant = svc.take(form.get("code", ""))
    if grant is None or grant.tenant_id != tenant.tenant_id:
        return _error(
            400, "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed or expired."
        )
    if form.get("redirect_uri") != grant.redirect_uri:
        return _error(
            400, "invalid_grant", "AADSTS50148: The redirect_uri does not match the authorization request."
        )
    verifier = form.get("code_verifier", "")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    if not hmac.compare_digest(challenge, grant.challenge):
        return _error(
            400, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge."
        )
    issuer = f"{req.base_url}/{tenant.tenant_id}/v2.0"
    return json_response(
        200,
        {
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_LIFETIME,
            "scope": "openid profile email",
            "id_token": svc.id_token(issuer, grant),
            "access_token": secrets.token_urlsafe(32),
        },
        [("Cache-Control", "no-store")],
    )


__all__ = ["EmulatorState", "SignInService", "authorize", "exchange"]
