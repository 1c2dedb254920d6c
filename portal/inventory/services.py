"""Writes to the Azure inventory: connections (with their secrets) and the subscriptions under them."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from portal.audit.services import audit_record
from portal.inventory import secrets
from portal.inventory.models import AuthMethod, AzureConnection, KeyVault, Subscription

CONNECTION_FIELDS = (
    "name",
    "tenant_id",
    "client_id",
    "auth_method",
    "secret_env_var",
    "certificate_path",
    "authority_host",
    "arm_endpoint",
    "default_group_id",
    "default_role",
    "is_enabled",
)


def _snapshot(conn: AzureConnection) -> dict[str, Any]:
    data = {f: getattr(conn, f) for f in CONNECTION_FIELDS}
    data["has_stored_secret"] = bool(conn.secret_encrypted)
    return data


@transaction.atomic
def connection_save(
    *,
    actor: User | None,
    connection: AzureConnection | None = None,
    data: dict[str, Any],
    secret: str | None = None,
    request: HttpRequest | None = None,
) -> AzureConnection:
    """Create or update a connection. `secret` (if given) is stored encrypted and never read back out."""
    from portal.accounts.models import Role

    if data.get("default_role") and data["default_role"] not in Role.values:
        raise ValidationError({"default_role": "Unknown role."})
    if data.get("auth_method", AuthMethod.CLIENT_SECRET) not in AuthMethod.values:
        raise ValidationError({"auth_method": "Unknown authentication method."})
    created = connection is None
    conn = connection or AzureConnection()
    before = None if created else _snapshot(conn)
    for field, value in data.items():
        if field in CONNECTION_FIELDS:
            setattr(conn, field, value)
    if secret:
        conn.secret_encrypted = secrets.encrypt(secret)
    conn.full_clean(exclude=["secret_encrypted"])
    conn.save()
    audit_record(
        actor=actor,
        action="connection.create" if created else "connection.update",
        obj=conn,
        before=before,
        after={**_snapshot(conn), "secret_changed": bool(secret)},
        request=request,
    )
    return conn


@sensitive_variables("value")
def connection_secret(conn: AzureConnection) -> str:
    """The client secret, for the Azure package only: from the referenced variable or decrypted."""
    if conn.secret_env_var:
        value = os.environ.get(conn.secret_env_var, "")
        if not value:
            raise secrets.SecretUnavailable(f"Environment variable {conn.secret_env_var} is not set.")
        return value
    if conn.secret_encrypted:
        return secrets.decrypt(conn.secret_encrypted)
    raise secrets.SecretUnavailable("No client secret is configured for this connection.")


def connections_load_file(
    *, path: Path, arm_endpoint: str = "", authority_host: str = ""
) -> list[AzureConnection]:
    """Load the emulator's connections file (tenant, client id, secret per tenant) as Azure connections."""
    entries = json.loads(path.read_text())
    result = []
    for entry in entries:
        existing = AzureConnection.objects.filter(name=entry["name"]).first()
        data = {
            "name": entry["name"],
            "tenant_id": entry["tenant_id"],
            "client_id": entry["client_id"],
            "auth_method": AuthMethod.CLIENT_SECRET,
            "arm_endpoint": arm_endpoint,
            "authority_host": authority_host,
        }
        result.append(
            connection_save(actor=None, connection=existing, data=data, secret=entry["client_secret"])
        )
    return result


SUBSCRIPTION_FIELDS = ("display_name", "state", "tenant_id", "tags")


@transaction.atomic
def subscription_upsert(*, connection: AzureConnection, data: dict[str, Any]) -> tuple[Subscription, bool]:
    """Create or update a subscription discovered through `connection` (keyed on its lower-cased GUID).

    A newly discovered subscription gets the connection's default role for its default group, if one is set.
    """
    from portal.accounts.services import role_grant

    sid = data["subscription_id"].lower()
    subscription = Subscription.objects.select_for_update().filter(subscription_id=sid).first()
    created = subscription is None
    if subscription is None:
        subscription = Subscription.objects.create(
            connection=connection,
            subscription_id=sid,
            **{f: data[f] for f in SUBSCRIPTION_FIELDS if f in data},
        )
        audit_record(
            actor=None, action="subscription.discovered", obj=subscription, after={"subscription_id": sid}
        )
        if connection.default_role and connection.default_group_id:
            role_grant(
                actor=None,
                subscription=subscription,
                role=connection.default_role,
                group=connection.default_group,
            )
    else:
        changed = [f for f in SUBSCRIPTION_FIELDS if f in data and getattr(subscription, f) != data[f]]
        for f in changed:
            setattr(subscription, f, data[f])
        # Another connection that sees it too does not take it over: the round (sync.discover_all) decides which
        # one syncs it, keeping the current one while it still sees it.
        if not subscription.in_azure:
            subscription.in_azure = True
            changed.append("in_azure")
        if changed:
            subscription.save(update_fields=changed)
    return subscription, created


def _vault_fields(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties") or {}
    acls = props.get("networkAcls") or {}
    sku = props.get("sku") or {}
    arm_id = item["id"]
    parts = arm_id.split("/")
    lower = [p.lower() for p in parts]
    rg = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else ""
    return {
        "name": str(item.get("name") or parts[-1])[:100],
        "resource_group": rg[:100],
        "location": str(item.get("location") or "")[:60],
        "tenant_id": str(props.get("tenantId") or "")[:64],
        "sku": str(sku.get("name") or "")[:20],
        "vault_uri": str(props.get("vaultUri") or "")[:300],
        "enable_soft_delete": props.get("enableSoftDelete"),
        "soft_delete_retention_days": props.get("softDeleteRetentionInDays"),
        "enable_purge_protection": props.get("enablePurgeProtection"),
        "enable_rbac_authorization": props.get("enableRbacAuthorization"),
        "public_network_access": str(props.get("publicNetworkAccess") or "")[:20],
        "network_default_action": str(acls.get("defaultAction") or "")[:20],
        "network_bypass": str(acls.get("bypass") or "")[:60],
        "provisioning_state": str(props.get("provisioningState") or "")[:30],
        "tags": item.get("tags") or {},
        "raw": item,
    }


@transaction.atomic
def vaults_sync(*, subscription: Subscription, items: list[dict[str, Any]], now: datetime) -> dict[str, int]:
    """Upsert the subscription's key vaults from a complete listing; vaults no longer listed stay, marked gone."""
    from portal.hashing import content_hash

    existing = {v.arm_id: v for v in KeyVault.objects.filter(subscription=subscription)}
    seen: set[str] = set()
    counts = {"new": 0, "changed": 0, "skipped": 0}
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), str)
            or "/vaults/" not in item["id"].lower()
        ):
            counts["skipped"] += 1
            continue
        arm_id = item["id"].lower()
        seen.add(arm_id)
        digest = content_hash(item)
        vault = existing.get(arm_id)
        if vault is not None and vault.content_hash == digest and vault.in_azure:
            continue
        fields = {**_vault_fields(item), "content_hash": digest, "in_azure": True, "last_seen_at": now}
        if vault is None:
            KeyVault.objects.create(subscription=subscription, arm_id=arm_id, **fields)
            counts["new"] += 1
        else:
            for key, value in fields.items():
                setattr(vault, key, value)
            vault.save(update_fields=list(fields))
            counts["changed"] += 1
    gone = [v.pk for arm_id, v in existing.items() if arm_id not in seen and v.in_azure]
    if gone:
        KeyVault.objects.filter(pk__in=gone).update(in_azure=False)
    counts["gone"] = len(gone)
    return counts


def vault_index(subscription: Subscription) -> dict[str, int]:
    """Lower-cased vault ARM id -> pk, to attach alerts to their vault."""
    return dict(KeyVault.objects.filter(subscription=subscription).values_list("arm_id", "pk"))


def connection_from_environment() -> AzureConnection | None:
    """The service principal of AZURE_TENANT_ID / AZURE_CLIENT_ID (+ secret or certificate, read by azure-identity's
    EnvironmentCredential) as a connection named "Environment". None when those variables are not set."""
    from django.conf import settings

    if not (settings.AZURE_TENANT_ID and settings.AZURE_CLIENT_ID):
        return None
    existing = AzureConnection.objects.filter(name="Environment").first()
    data = {
        "name": "Environment",
        "tenant_id": settings.AZURE_TENANT_ID,
        "client_id": settings.AZURE_CLIENT_ID,
        "auth_method": AuthMethod.ENVIRONMENT,
    }
    if existing is not None and all(getattr(existing, k) == v for k, v in data.items()):
        return existing
    return connection_save(actor=None, connection=existing, data=data)
