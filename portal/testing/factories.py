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
