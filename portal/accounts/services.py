"""Writes for users and roles. Each one is audited."""

from __future__ import annotations

import uuid
import zoneinfo

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal.accounts.models import Role, RoleAssignment, SsoIdentity, UserPreference
from portal.accounts.selectors import can_grant, forget_roles
from portal.audit.services import audit_record
from portal.inventory.models import Subscription


def _check_grant(actor: User | None, subscription: Subscription) -> None:
    if actor is not None and not can_grant(actor, subscription.pk):
        raise PermissionDenied("Only Owners of this subscription can grant roles.")


@transaction.atomic
def role_grant(
    *,
    actor: User | None,
    subscription: Subscription,
    role: str,
    user: User | None = None,
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
def role_revoke(
    *, actor: User | None, assignment: RoleAssignment, request: HttpRequest | None = None
) -> None:
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


@transaction.atomic
def sso_user_create(
    *, name: str, tenant_id: uuid.UUID | str, object_id: uuid.UUID | str, request: HttpRequest | None = None
) -> User:
    """A portal account for someone Entra ID signed in (OIDC_CREATE_USERS), bound to their tenant id and object id
    (the token's tid and oid): no password (create_user without one stores an unusable one), no role until someone
    grants one; audited."""
    user = User.objects.create_user(username=name[:150], email=name if "@" in name else "")
    SsoIdentity.objects.create(
        user=user,
        tenant_id=tenant_id,
        object_id=object_id,
        upn=name[:254],
        linked_how=SsoIdentity.LinkedHow.CREATED,
        last_sign_in_at=timezone.now(),
    )
    audit_record(
        actor=None,
        action="auth.sso_user_created",
        obj=user,
        after={"username": name, "tenant_id": str(tenant_id), "object_id": str(object_id)},
        request=request,
    )
    return user


@transaction.atomic
def sso_identity_link(
    *,
    actor: User,
    user: User,
    tenant_id: uuid.UUID | str,
    object_id: uuid.UUID | str,
    how: str,
    upn: str = "",
    request: HttpRequest | None = None,
) -> SsoIdentity:
    """Bind the Microsoft account (tenant id, object id) to `user`, who then signs in with it. `how`: ADMIN (an
    administrator, a superuser, entered them in the admin: the only way for a superuser) or PASSWORD (the person
    signed in with the account's password in this same Microsoft sign-in and confirmed). Audited."""
    if how == SsoIdentity.LinkedHow.ADMIN:
        if not getattr(actor, "is_superuser", False):
            raise PermissionDenied("Only an administrator links Microsoft accounts to portal accounts.")
    elif how == SsoIdentity.LinkedHow.PASSWORD:
        if user.is_superuser:
            raise PermissionDenied(
                "An administrator account is linked to a Microsoft account only by an administrator, in the admin."
            )
        if getattr(actor, "pk", None) != user.pk:
            raise PermissionDenied("Only the account's owner confirms this link.")
    else:
        raise ValidationError(f"Unknown way of linking {how!r}.")
    if SsoIdentity.objects.filter(user=user).exists():
        raise ValidationError(
            f"{user.get_username()} is already linked to a Microsoft account. An administrator can change it."
        )
    if SsoIdentity.objects.filter(tenant_id=tenant_id, object_id=object_id).exists():
        raise ValidationError("This Microsoft account is already linked to another portal account.")
    identity = SsoIdentity.objects.create(
        user=user,
        tenant_id=tenant_id,
        object_id=object_id,
        upn=upn[:254],
        linked_how=how,
        linked_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="auth.sso_linked",
        obj=identity,
        after={
            "user": user.get_username(),
            "tenant_id": str(identity.tenant_id),
            "object_id": str(identity.object_id),
            "upn": upn,
            "how": how,
        },
        request=request,
    )
    return identity


@transaction.atomic
def sso_identity_unlink(*, actor: User, identity: SsoIdentity, request: HttpRequest | None = None) -> None:
    audit_record(
        actor=actor,
        action="auth.sso_unlinked",
        obj=identity,
        before={
            "user": identity.user.get_username(),
            "tenant_id": str(identity.tenant_id),
            "object_id": str(identity.object_id),
            "upn": identity.upn,
            "how": identity.linked_how,
        },
        request=request,
    )
    identity.delete()


def sso_identity_signed_in(*, identity: SsoIdentity, upn: str) -> None:
    """Remember when and as what name Microsoft last signed this identity in (information only)."""
    identity.upn = upn[:254]
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["upn", "last_sign_in_at"])


def preference_for(user: User) -> UserPreference:
    pref, _ = UserPreference.objects.get_or_create(user=user)
    return pref


def validate_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({"timezone": f"Unknown time zone {name!r}."}) from exc
    return name


def preference_set_timezone(
    *, user: User, timezone_name: str, from_browser: bool, request: HttpRequest | None = None
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


def preference_set_flag(*, user: User, name: str, value: bool) -> UserPreference:
    """A yes/no preference: `keyboard_shortcuts` or `alerts_chart_open`."""
    if name not in {"keyboard_shortcuts", "alerts_chart_open"}:
        raise ValidationError({name: "Not a preference."})
    pref = preference_for(user)
    if getattr(pref, name) != value:
        setattr(pref, name, value)
        pref.save(update_fields=[name])
    return pref


def preference_set_theme(*, user: User, theme: str) -> UserPreference:
    if theme not in {"auto", "light", "dark"}:
        raise ValidationError({"theme": "Choose auto, light or dark."})
    pref = preference_for(user)
    if pref.theme != theme:
        pref.theme = theme
        pref.save(update_fields=["theme"])
    return pref
