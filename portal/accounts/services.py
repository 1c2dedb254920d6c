"""Writes for users and roles. Each one is audited."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest

from portal.accounts.models import Role, RoleAssignment, UserPreference
from portal.accounts.selectors import can_grant, forget_roles
from portal.audit.services import audit_record
from portal.inventory.models import Subscription


def _check_grant(actor: Any, subscription: Subscription) -> None:
    if actor is not None and not can_grant(actor, subscription.pk):
        raise PermissionDenied("Only Owners of this subscription can grant roles.")


@transaction.atomic
def role_grant(
    *,
    actor: Any,
    subscription: Subscription,
    role: str,
    user: Any = None,
    group: Group | None = None,
    request: HttpRequest | None = None,
) -> RoleAssignment:
    """Give `user` or `group` exactly `role` on `subscription` (replacing a previous role). actor=None: system."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if (user is None) == (group is None):
        raise ValidationError("Grant a role to either a user or a group.")
    _check_grant(actor, subscription)
    target = {"user": user} if user is not None else {"group": group}
    existing = RoleAssignment.objects.select_for_update().filter(subscription=subscription, **target).first()
    before = existing.role if existing else None
    if existing:
        if existing.role != role:
            existing.role = role
            existing.granted_by = actor if getattr(actor, "is_authenticated", False) else None
            existing.save(update_fields=["role", "granted_by"])
        assignment = existing
    else:
        assignment = RoleAssignment.objects.create(
            subscription=subscription,
            role=role,
            granted_by=actor if getattr(actor, "is_authenticated", False) else None,
            **target,
        )
    if before != role:
        audit_record(
            actor=actor,
            action="role.grant",
            obj=assignment,
            before={"role": before},
            after={"role": role, "principal": str(user or group)},
            request=request,
            subscription=subscription,
        )
    if user is not None:
        forget_roles(user)
    return assignment


@transaction.atomic
def role_revoke(*, actor: Any, assignment: RoleAssignment, request: HttpRequest | None = None) -> None:
    _check_grant(actor, assignment.subscription)
    audit_record(
        actor=actor,
        action="role.revoke",
        obj=assignment,
        before={"role": assignment.role, "principal": str(assignment.user or assignment.group)},
        after=None,
        request=request,
        subscription=assignment.subscription,
    )
    assignment.delete()


def sso_user_create(*, name: str) -> Any:
    """A portal account for someone Entra ID signed in (OIDC_CREATE_USERS): no password (create_user without one
    stores an unusable one), no role until someone grants one; audited."""
    from django.contrib.auth.models import User

    user = User.objects.create_user(username=name[:150], email=name if "@" in name else "")
    audit_record(actor=None, action="auth.sso_user_created", obj=user, after={"username": name})
    return user


def preference_for(user: Any) -> UserPreference:
    pref, _ = UserPreference.objects.get_or_create(user=user)
    return pref


def validate_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({"timezone": f"Unknown time zone {name!r}."}) from exc
    return name


def preference_set_timezone(
    *, user: Any, timezone_name: str, from_browser: bool, request: HttpRequest | None = None
) -> UserPreference:
    """Set the user's time zone. A browser-detected zone never overrides one the user chose."""
    validate_timezone(timezone_name)
    pref = preference_for(user)
    if from_browser and not pref.timezone_from_browser and pref.timezone:
        return pref
    if pref.timezone == timezone_name and pref.timezone_from_browser == from_browser:
        return pref
    before = pref.timezone
    pref.timezone = timezone_name
    pref.timezone_from_browser = from_browser
    pref.save(update_fields=["timezone", "timezone_from_browser"])
    audit_record(
        actor=user,
        action="preference.timezone",
        obj=pref,
        before={"timezone": before},
        after={"timezone": timezone_name, "from_browser": from_browser},
        request=request,
    )
    return pref


def preference_set_theme(*, user: Any, theme: str) -> UserPreference:
    if theme not in {"auto", "light", "dark"}:
        raise ValidationError({"theme": "Choose auto, light or dark."})
    pref = preference_for(user)
    if pref.theme != theme:
        pref.theme = theme
        pref.save(update_fields=["theme"])
    return pref
