"""Who may see and change what: the one place that scopes querysets by the user's subscription roles.

Every page, API view and admin class reads through these functions:
- `subscriptions_visible_to(user)` / `scope_to_user(qs, user)`: only objects of subscriptions the user holds a role on.
- `get_for_user(qs, user, pk, write=...)`: another subscription's object is a 404; a write without the role is a 403.
Superusers see and change everything. Roles are read fresh on every request, so a change takes effect at once.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from portal.accounts.models import GRANT_RANK, ROLE_RANK, WRITE_RANK, Role, RoleAssignment
from portal.inventory.models import Subscription

M = TypeVar("M", bound=Model)

_CACHE_ATTR = "_portal_role_map"


def role_map(user: User | AnonymousUser) -> dict[int, str]:
    """{subscription pk: strongest role} for the user, directly or through a group. Cached per user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached: dict[int, str] | None = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    result: dict[int, str] = {}
    rows = RoleAssignment.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
        "subscription_id", "role"
    )
    for subscription_id, role in rows:
        if ROLE_RANK[role] > ROLE_RANK.get(result.get(subscription_id, ""), 0):
            result[subscription_id] = role
    setattr(user, _CACHE_ATTR, result)
    return result


def forget_roles(user: User) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def role_on(user: User | AnonymousUser, subscription_pk: int) -> str | None:
    if getattr(user, "is_superuser", False) and user.is_active:
        return Role.OWNER
    return role_map(user).get(subscription_pk)


def can_see(user: User | AnonymousUser, subscription_pk: int) -> bool:
    return role_on(user, subscription_pk) is not None


def can_write(user: User | AnonymousUser, subscription_pk: int) -> bool:
    role = role_on(user, subscription_pk)
    return role is not None and ROLE_RANK[role] >= WRITE_RANK


def can_write_any(user: User | AnonymousUser) -> bool:
    """Whether the user may act (Security Admin or Owner) on at least one subscription."""
    pks = subscription_pks_for(user, min_rank=WRITE_RANK)
    return pks is None or bool(pks)


def can_grant(user: User | AnonymousUser, subscription_pk: int) -> bool:
    role = role_on(user, subscription_pk)
    return role is not None and ROLE_RANK[role] >= GRANT_RANK


def subscription_pks_for(user: User | AnonymousUser, *, min_rank: int = 0) -> list[int] | None:
    """Subscription pks where the user holds at least `min_rank`; None means all (superuser)."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return None
    return [pk for pk, role in role_map(user).items() if ROLE_RANK[role] >= min_rank]


def scope_to_user(
    qs: QuerySet[M], user: User | AnonymousUser, *, field: str = "subscription", write: bool = False
) -> QuerySet[M]:
    """Restrict `qs` to objects whose `field` (a Subscription FK path) the user may see (or change)."""
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    pks = subscription_pks_for(user, min_rank=WRITE_RANK if write else 0)
    if pks is None:
        return qs
    lookup = "pk__in" if field in ("", "pk") else f"{field}__in"
    return qs.filter(**{lookup: pks})


def subscriptions_visible_to(user: User | AnonymousUser, *, write: bool = False) -> QuerySet[Subscription]:
    return scope_to_user(Subscription.objects.all(), user, field="pk", write=write)


def subscriptions_grantable_by(user: User | AnonymousUser) -> QuerySet[Subscription]:
    pks = subscription_pks_for(user, min_rank=GRANT_RANK)
    qs = Subscription.objects.all()
    return qs if pks is None else qs.filter(pk__in=pks)


def get_for_user(
    qs: QuerySet[M],
    user: User | AnonymousUser,
    *,
    write: bool = False,
    grant: bool = False,
    field: str = "subscription",
    **lookup: Any,
) -> M:
    """One object by `lookup`: 404 unless the user may see its subscription, 403 if a write/grant isn't allowed."""
    try:
        obj = scope_to_user(qs, user, field=field).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:  # get(): the model's DoesNotExist, a subclass
        raise Http404(f"No {qs.model._meta.verbose_name} matches the given query.") from exc
    subscription_pk = obj.pk if field in ("", "pk") else _follow(obj, field)
    if grant and not can_grant(user, subscription_pk):
        raise PermissionDenied("Only Owners of this subscription can grant roles.")
    if write and not can_write(user, subscription_pk):
        raise PermissionDenied(
            "Your role on this subscription is read-only (Security Admin or Owner required)."
        )
    return obj


def _follow(obj: Model, field: str) -> int:
    current: Any = obj
    parts = field.split("__")
    for part in parts[:-1]:
        current = getattr(current, part)
    subscription_pk: int = getattr(current, parts[-1] + "_id")
    return subscription_pk


def subscription_get_for_user(
    user: User | AnonymousUser, pk: Any, *, write: bool = False, grant: bool = False
) -> Subscription:
    return get_for_user(Subscription.objects.all(), user, write=write, grant=grant, field="pk", pk=pk)
