"""Test data from factories (not JSON fixtures), and the personas every view test uses.

Personas, on two subscriptions `sub` (the one under test) and `other` (someone else's):
- owner: Owner of sub        - secadmin: Security Admin of sub
- reader: Reader of sub      - outsider: Owner of `other` only (so "another subscription's object" is real)
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User

from portal.accounts.models import Role, RoleAssignment
from portal.inventory.models import AzureConnection, KeyVault, Subscription

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"  # noqa: S105 - test password


def make_user(
    username: str | None = None, *, superuser: bool = False, staff: bool = False, **extra: Any
) -> User:
    username = username or f"user{next(_seq)}"
    user = User.objects.create_user(
        username=username,
        email=f"{username}@example.test",
        password=PASSWORD,
        is_staff=staff or superuser,
        is_superuser=superuser,
        **extra,
    )
    return user


def make_connection(name: str | None = None, **extra: Any) -> AzureConnection:
    n = next(_seq)
    defaults = {"tenant_id": str(uuid.UUID(int=n)), "client_id": str(uuid.UUID(int=10_000 + n))}
    return AzureConnection.objects.create(name=name or f"Tenant {n}", **{**defaults, **extra})


def make_subscription(connection: AzureConnection | None = None, **extra: Any) -> Subscription:
    n = next(_seq)
    connection = connection or make_connection()
    defaults = {
        "subscription_id": str(uuid.UUID(int=1_000_000 + n)),
        "display_name": f"Subscription {n}",
        "state": "Enabled",
        "tenant_id": connection.tenant_id,
    }
    return Subscription.objects.create(connection=connection, **{**defaults, **extra})


def make_vault(subscription: Subscription, name: str | None = None, **extra: Any) -> KeyVault:
    n = next(_seq)
    name = name or f"kv-test-{n}"
    rg = extra.pop("resource_group", "rg-security")
    arm_id = f"/subscriptions/{subscription.subscription_id}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    defaults = {
        "arm_id": arm_id.lower(),
        "name": name,
        "resource_group": rg,
        "location": "westeurope",
        "sku": "standard",
        "vault_uri": f"https://{name}.vault.azure.net/",
        "tenant_id": subscription.tenant_id,
        "enable_soft_delete": True,
        "soft_delete_retention_days": 90,
        "enable_purge_protection": True,
        "enable_rbac_authorization": True,
        "public_network_access": "Enabled",
        "network_default_action": "Allow",
    }
    return KeyVault.objects.create(subscription=subscription, **{**defaults, **extra})


def grant(user: User, subscription: Subscription, role: str) -> RoleAssignment:
    return RoleAssignment.objects.create(user=user, subscription=subscription, role=role)


@dataclass
class Personas:
    sub: Subscription
    other: Subscription
    owner: User
    secadmin: User
    reader: User
    outsider: User
    superuser: User

    def all_roles(self) -> dict[str, User]:
        return {
            "owner": self.owner,
            "secadmin": self.secadmin,
            "reader": self.reader,
            "outsider": self.outsider,
        }


def make_personas() -> Personas:
    sub = make_subscription(display_name="Contoso Production")
    other = make_subscription(display_name="Fabrikam (someone else's)")
    owner = make_user("owner", staff=True)
    secadmin = make_user("secadmin", staff=True)
    reader = make_user("reader")
    outsider = make_user("outsider", staff=True)
    superuser = make_user("root", superuser=True)
    grant(owner, sub, Role.OWNER)
    grant(secadmin, sub, Role.SECURITY_ADMIN)
    grant(reader, sub, Role.READER)
    grant(outsider, other, Role.OWNER)
    return Personas(sub, other, owner, secadmin, reader, outsider, superuser)


def alert_item(
    subscription: Subscription, *, vault: KeyVault | None = None, n: int | None = None, **props: Any
) -> dict[str, Any]:
    """An ARM alert (api 2022-01-01) as Azure would list it, for tests that do not need the emulator."""
    from datetime import UTC, datetime, timedelta

    n = n if n is not None else next(_seq)
    rg = f"/resourceGroups/{vault.resource_group}" if vault else ""
    when = props.pop("when", None) or datetime.now(UTC) - timedelta(hours=n)
    alert_id = (
        f"/subscriptions/{subscription.subscription_id}{rg}/providers/Microsoft.Security/locations/"
        f"westeurope/alerts/2517{n:012d}_{uuid.UUID(int=n)}"
    )
    entities: list[dict[str, Any]] = [
        {
            "$id": "1",
            "address": props.pop("ip", f"203.0.113.{n % 250}"),
            "type": "ip",
            "location": {"countryCode": "NL", "city": "Amsterdam", "asn": 1136},
        },
        {
            "$id": "2",
            "name": props.pop("user", "alice"),
            "upnSuffix": "contoso.com",
            "aadUserId": str(uuid.UUID(int=n)),
            "type": "account",
        },
    ]
    if vault:
        entities.append({"$id": "3", "resourceId": vault.arm_id, "type": "azure-resource"})
    properties = {
        "alertType": "KV_TORAccess",
        "systemAlertId": alert_id.rsplit("/", 1)[1],
        "productComponentName": "KeyVaults",
        "alertDisplayName": "Access from a TOR exit node to a key vault",
        "description": "Tor access.",
        "severity": "Medium",
        "intent": "CredentialAccess",
        "status": "Active",
        "startTimeUtc": when.isoformat(),
        "endTimeUtc": when.isoformat(),
        "timeGeneratedUtc": when.isoformat(),
        "resourceIdentifiers": [{"type": "AzureResource", "azureResourceId": vault.arm_id}] if vault else [],
        "remediationSteps": ["Rotate the secrets."],
        "entities": entities,
        "extendedProperties": {"Client IP": entities[0]["address"], "User agent": "azsdk-python"},
        "compromisedEntity": vault.name if vault else "",
        "correlationKey": props.pop("correlation", ""),
        "alertUri": "https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade",
    }
    properties.update(props)
    return {
        "id": alert_id,
        "name": alert_id.rsplit("/", 1)[1],
        "type": "Microsoft.Security/Locations/alerts",
        "properties": properties,
    }


def make_alerts(subscription: Subscription, items: list[dict[str, Any]]) -> list[Any]:
    """Store alerts through the sync's own upsert (so rollup, vault links and search text are real)."""
    from django.utils import timezone

    from alerts.models import Alert
    from alerts.sync import upsert_page
    from portal.inventory.services import vault_index

    result = upsert_page(
        subscription_pk=subscription.pk,
        subscription_id=subscription.subscription_id,
        items=items,
        vault_index=vault_index(subscription),
        now=timezone.now(),
    )
    return list(Alert.objects.filter(pk__in=result.new_ids).order_by("pk"))
