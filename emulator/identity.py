"""Entra ID (AAD) v2.0 endpoints: OpenID discovery and the client-credentials token endpoint.

Tokens are JWT-shaped (HS256 with a per-process key) and carry the usual claims (`tid`, `appid`, `oid`,
`aud`, `exp`), so tools that peek at claims work. A token is tied to its tenant's service principal:
ARM lets it see only that tenant's subscriptions. Token lifetime is checked against real time, not the
emulator clock, so advancing the clock for trial tests does not log every client out.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from .state import EmulatorState, Tenant
from .web import Request, Response, form_of, json_response

TOKEN_LIFETIME = 3599
_ARM_AUDIENCES = (
    "https://management.azure.com",
    "https://management.core.windows.net",
)


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    client_id: str
    object_id: str
    audience: str
    expires: int


class AuthError(Exception):
    def __init__(self, code: str, message: str, description: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.description = description


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._cache: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def issue(self, tenant: Tenant, audience: str) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "HS256", "kid": "emulator"}
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tenant.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "appid": tenant.client_id,
            "appidacr": "1",
            "idp": f"https://sts.windows.net/{tenant.tenant_id}/",
            "idtyp": "app",
            "oid": tenant.principal_object_id,
            "sub": tenant.principal_object_id,
            "tid": tenant.tenant_id,
            "uti": _b64(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
        sig = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(sig)}"

    def validate(self, token: str, base_url: str) -> Principal:
        principal = self._cache.get(token)
        if principal is None:
            principal = self._decode(token)
            if not _audience_ok(principal.audience, base_url):
                raise AuthError(
                    "InvalidAuthenticationTokenAudience",
                    f"The access token has been obtained for wrong audience or resource '{principal.audience}'. "
                    "It should exactly match with one of the allowed audiences "
                    "'https://management.core.windows.net/','https://management.core.windows.net',"
                    "'https://management.azure.com/','https://management.azure.com'.",
                    "The audience is not allowed",
                )
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[token] = principal
        now = int(time.time())
        if principal.expires <= now:
            raise AuthError(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_fmt_epoch(principal.expires)}' is earlier than current "
                f"UTC time '{_fmt_epoch(now)}'.",
                "The access token is expired",
            )
        return principal

    def _decode(self, token: str) -> Principal:
        invalid = AuthError(
            "InvalidAuthenticationToken", "The access token is invalid.", "The access token is invalid"
        )
        parts = token.split(".")
        if len(parts) != 3:
            raise invalid
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                raise invalid
            claims = orjson.loads(_unb64(parts[1]))
        except (ValueError, orjson.JSONDecodeError) as exc:
            raise invalid from exc
        return Principal(
            tenant_id=str(claims["tid"]),
            client_id=str(claims["appid"]),
            object_id=str(claims["oid"]),
            audience=str(claims["aud"]),
            expires=int(claims["exp"]),
        )


def _fmt_epoch(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%m/%d/%Y %H:%M:%S")


def _audience_ok(audience: str, base_url: str) -> bool:
    aud = audience.rstrip("/").lower()
    if aud in _ARM_AUDIENCES or aud == base_url.rstrip("/").lower():
        return True
    host = aud.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host in ("127.0.0.1", "localhost")


# -- AAD error bodies -----------------------------------------------------------------------------
def _aad_error(status: int, error: str, code: int, text: str) -> Response:
    trace_id = str(uuid.uuid4())
    correlation_id = str(uuid.uuid4())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: {correlation_id} "
        f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return json_response(status, body, [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])


def _unknown_tenant(tenant: str) -> Response:
    return _aad_error(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant.",
    )


def find_tenant(state: EmulatorState, name: str) -> Tenant | None:
    tenant = state.tenant_by_id(name)
    if tenant is not None:
        return tenant
    lowered = name.lower()
    for t in state.tenants.values():
        if lowered in (t.domain.lower(), f"{t.display_name.lower()}.onmicrosoft.com"):
            return t
    return None


def openid_configuration(state: EmulatorState, req: Request, tenant_name: str) -> Response:
    tenant = find_tenant(state, tenant_name)
    if tenant is None:
        return _unknown_tenant(tenant_name)
    base = req.base_url
    tid = tenant.tenant_id
    config: dict[str, Any] = {
        "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "tid",
            "oid",
            "ver",
            "preferred_username",
            "email",
            "name",
        ],
        "kerberos_endpoint": f"{base}/{tid}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return json_response(200, config, [("Cache-Control", "max-age=86400, private")])


def token(
    state: EmulatorState, tokens: TokenService, req: Request, tenant_name: str, signin_service: Any = None
) -> Response:
    tenant = find_tenant(state, tenant_name)
    if tenant is None:
        return _unknown_tenant(tenant_name)
    form = form_of(req)
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    basic = req.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, client_secret = client_id or user, password
        except (ValueError, UnicodeDecodeError):
            pass
    grant = form.get("grant_type")
    if grant == "authorization_code" and signin_service is not None:  # a user signing in to the portal (SSO)
        from . import signin

        if (client_id or "").lower() != tenant.client_id.lower():
            return _aad_error(400, "unauthorized_client", 700016, f"Application '{client_id}' was not found.")
        return signin.exchange(tenant, signin_service, req, form, client_secret or "")
    if grant != "client_credentials":
        return _aad_error(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'. This emulator supports client_credentials.",
        )
    scope = form.get("scope", "")
    if not scope:
        return _aad_error(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    resource_scopes = [s for s in scope.split() if s.endswith("/.default")]
    if not resource_scopes:
        return _aad_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
            "with /.default suffixed to the resource identifier (application ID URI).",
        )
    if not client_id:
        return _aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    if client_id.lower() != tenant.client_id.lower():
        return _aad_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )
    if not client_secret:
        return _aad_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    if not hmac.compare_digest(client_secret.encode(), tenant.client_secret.encode()):
        return _aad_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{tenant.client_id}'.",
        )
    audience = resource_scopes[0][: -len("/.default")]
    access_token = tokens.issue(tenant, audience)
    body = {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": access_token,
    }
    return json_response(200, body, [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])
