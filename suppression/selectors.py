"""Reads of suppression rules, scoped to the user's subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from portal.accounts.selectors import get_for_user, scope_to_user
from suppression.models import SuppressionRule

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def rules_visible_to(user: User) -> QuerySet[SuppressionRule]:
    return scope_to_user(SuppressionRule.objects.select_related("subscription"), user)


def rule_get_for_user(user: User, pk: int, *, write: bool = False) -> SuppressionRule:
    return get_for_user(SuppressionRule.objects.select_related("subscription"), user, write=write, pk=pk)
