"""Credentials and SDK clients for one Azure connection, built once per process and reused.

Retries live here, in one layer: the SDK's RetryPolicy, configured explicitly (connect/read timeouts, bounded
retries with backoff, Retry-After honoured up to a cap). Callers (Celery tasks) retry only whole runs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

ARM_DEFAULT = "https://management.azure.com"
KNOWN_AUTHORITIES = {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"}

# SDK pipeline settings (AZURE.md §4.2): explicit rather than the SDK's 300 s timeouts and 10 retries.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
RETRY_TOTAL = 4
RETRY_BACKOFF = 0.8
RETRY_BACKOFF_MAX = 20
RETRY_AFTER_CAP = 30.0

# ARM API versions, one place for both the SDK profile below and the raw JSON reads in operations.py.
API_SECURITY_DEFAULT = "2024-01-01"
API_ALERTS = "2022-01-01"
API_PRICINGS = "2024-01-01"
API_CONTACTS = "2020-01-01-preview"
API_RULES = "2019-01-01-preview"
API_SUBSCRIPTIONS = "2022-12-01"
API_VAULTS = "2026-05-15"  # azure-mgmt-keyvault 14.1.0's default
API_STORAGE = "2023-05-01"
API_DIAGNOSTICS = "2021-05-01-preview"  # azure-mgmt-monitor has no diagnostic settings group (AZURE.md §7.3)


@dataclass(frozen=True)
class ConnectionConfig:
    """What the Azure package needs to know about a connection (plain data, no Django model)."""

    key: str  # identifies the connection (e.g. "conn-3"); part of the client cache key
    tenant_id: str
    client_id: str
    auth_method: str  # client_secret | certificate | workload_identity | environment | default
    arm_endpoint: str = ARM_DEFAULT
    authority_host: str = ""
    certificate_path: str = ""
    get_secret: Callable[[], str] | None = field(default=None, compare=False, hash=False)
    retry_total: int = RETRY_TOTAL
    retry_backoff: float = RETRY_BACKOFF

    def fingerprint(self) -> str:
        raw = "|".join(
            [
                self.key,
                self.tenant_id,
                self.client_id,
                self.auth_method,
                self.arm_endpoint,
                self.authority_host,
                self.certificate_path,
                str(self.retry_total),
                str(self.retry_backoff),
            ]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class CappedRetryPolicy(RetryPolicy[HttpRequest, HttpResponse]):
    """The SDK's retry policy, but a Retry-After longer than the cap is shortened to it."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, RETRY_AFTER_CAP)


class CallCounter(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Counts every HTTP request that reaches Azure (retries included): SyncRun.arm_calls."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_request(self, request: Any) -> None:
        with self._lock:
            self.count += 1


def _credential(config: ConnectionConfig) -> Any:
    from azure import identity

    authority = config.authority_host or None
    kwargs: dict[str, Any] = {}
    if authority:
        kwargs["authority"] = authority
        if (
            urlsplit(authority if "//" in authority else f"https://{authority}").hostname
            not in KNOWN_AUTHORITIES
        ):
            kwargs["disable_instance_discovery"] = (
                True  # a private authority (the emulator): no discovery call
            )
    method = config.auth_method
    if method == "client_secret":
        if config.get_secret is None:
            raise ValueError("client_secret connection without a secret")
        return identity.ClientSecretCredential(
            config.tenant_id, config.client_id, config.get_secret(), **kwargs
        )
    if method == "certificate":
        return identity.CertificateCredential(
            config.tenant_id, config.client_id, config.certificate_path, **kwargs
        )
    if method == "workload_identity":
        return identity.WorkloadIdentityCredential(
            tenant_id=config.tenant_id, client_id=config.client_id, **kwargs
        )
    if method == "environment":
        return identity.EnvironmentCredential(**kwargs)
    if method == "default":
        # Operator-configured hosts only: its managed-identity probe reaches 169.254.169.254.
        return identity.DefaultAzureCredential(**kwargs)
    raise ValueError(f"unknown auth method {method!r}")


class ArmSession:
    """The credential and SDK clients of one connection. Thread-safe enough for Celery's thread pool."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self.counter = CallCounter()
        self.credential = _credential(config)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.config.arm_endpoint,
            "credential_scopes": [_scope(self.config.arm_endpoint)],
            "retry_policy": CappedRetryPolicy(
                retry_total=self.config.retry_total,
                retry_connect=3,
                retry_read=3,
                retry_status=3,
                retry_backoff_factor=self.config.retry_backoff,
                retry_backoff_max=RETRY_BACKOFF_MAX,
            ),
            "connection_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "per_retry_policies": [self.counter],
            "polling_interval": 1,
        }

    def security(self, subscription_id: str) -> Any:
        return self._get("security", subscription_id, self._build_security)

    def subscriptions(self) -> Any:
        return self._get("subscriptions", "", self._build_subscriptions)

    def resource_graph(self) -> Any:
        return self._get("resourcegraph", "", self._build_resource_graph)

    def pipeline(self) -> Any:
        """An ARM pipeline (auth, retries, counting) for raw JSON requests that skip SDK models."""
        return self.subscriptions()._client

    def _get(self, kind: str, key: str, build: Callable[[str], Any]) -> Any:
        with self._lock:
            client = self._clients.get((kind, key))
            if client is None:
                client = self._clients[(kind, key)] = build(key)
            return client

    def _build_security(self, subscription_id: str) -> Any:
        from azure.mgmt.security import SecurityCenter

        profile = {
            None: API_SECURITY_DEFAULT,
            "alerts": API_ALERTS,
            "pricings": API_PRICINGS,
            "security_contacts": API_CONTACTS,
            "alerts_suppression_rules": API_RULES,
        }
        return SecurityCenter(self.credential, subscription_id, profile=profile, **self._client_kwargs())

    def _build_resource_graph(self, _: str) -> Any:
        from azure.mgmt.resourcegraph import ResourceGraphClient

        return ResourceGraphClient(self.credential, **self._client_kwargs())

    def _build_subscriptions(self, _: str) -> Any:
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        return SubscriptionClient(self.credential, **self._client_kwargs())


def _scope(arm_endpoint: str) -> str:
    parts = urlsplit(arm_endpoint)
    if parts.hostname in {"127.0.0.1", "localhost"}:
        return "https://management.azure.com/.default"  # the emulator answers for the public-cloud audience
    return f"{parts.scheme}://{parts.netloc}/.default"


_sessions: dict[str, ArmSession] = {}
_sessions_lock = threading.Lock()


def get_session(config: ConnectionConfig) -> ArmSession:
    """The process-wide session for a connection (rebuilt when its configuration changes)."""
    fp = config.fingerprint()
    with _sessions_lock:
        session = _sessions.get(config.key)
        if session is None or session.config.fingerprint() != fp:
            session = _sessions[config.key] = ArmSession(config)
        return session


def drop_session(config: ConnectionConfig) -> None:
    """Forget a connection's credential and clients: the next call obtains a fresh token."""
    with _sessions_lock:
        _sessions.pop(config.key, None)
