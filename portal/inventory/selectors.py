"""Reads of the Azure inventory, scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from portal.accounts.selectors import get_for_user, scope_to_user
from portal.inventory.models import KeyVault


def vaults_visible_to(user: User | AnonymousUser) -> QuerySet[KeyVault]:
    return scope_to_user(KeyVault.objects.select_related("subscription"), user)


def vault_get_for_user(user: User | AnonymousUser, pk: Any, *, write: bool = False) -> KeyVault:
    return get_for_user(KeyVault.objects.select_related("subscription"), user, write=write, pk=pk)
