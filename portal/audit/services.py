"""The one write path of the audit log. Every service calls it for every change it makes."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from portal.audit.models import AuditRecord

if TYPE_CHECKING:
    from portal.inventory.models import Subscription

SENSITIVE_KEYS = {"secret", "client_secret", "password", "token", "secret_encrypted", "access_token"}


def _scrub(data: Any) -> Any:
    """Never store a secret in the audit log, whatever a caller passes."""
    if isinstance(data, dict):
        return {k: ("***" if str(k).lower() in SENSITIVE_KEYS else _scrub(v)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_scrub(v) for v in data]
    return data


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def audit_build(
    *,
    actor: User | str | None,
    action: str,
    obj: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    request: HttpRequest | None = None,
    subscription: Subscription | int | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    now: datetime | None = None,
) -> AuditRecord:
    """The entry recording who did `action` to `obj` (when, from which address, before → after), not yet saved:
    `audit_records` saves many in one statement. `actor`: the user, None for the system, or a label for what else
    acted (a suppression rule)."""
    user = actor if isinstance(actor, User) and actor.is_authenticated else None
    scope: models.Model | int | None = subscription  # the subscription (or its pk) the record is filed under
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:300]
        if scope is None:
            if obj._meta.label_lower == "inventory.subscription":
                scope = obj
            elif hasattr(obj, "subscription_id"):
                scope = obj.subscription_id
    subscription_id: int | None = scope.pk if isinstance(scope, models.Model) else scope
    return AuditRecord(
        created_at=now or timezone.now(),
        actor=user,
        actor_label=user.get_username() if user else (str(actor) if actor else "system"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:300],
        subscription_id=subscription_id,
        before=_scrub(before),
        after=_scrub(after),
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""),
    )


def audit_records(records: list[AuditRecord]) -> None:
    AuditRecord.objects.bulk_create(records, batch_size=1000)


def audit_record(
    *,
    actor: User | str | None,
    action: str,
    obj: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    request: HttpRequest | None = None,
    subscription: Subscription | int | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    now: datetime | None = None,
) -> AuditRecord:
    """Record who did `action` to `obj` (audit_build's arguments), now."""
    record = audit_build(
        actor=actor,
        action=action,
        obj=obj,
        before=before,
        after=after,
        request=request,
        subscription=subscription,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        now=now,
    )
    record.save(force_insert=True)
    return record
