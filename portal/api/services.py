"""Writes for API tokens (audited)."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from portal import text
from portal.api.models import ApiToken
from portal.api.selectors import may_manage_token
from portal.audit.services import audit_record

TOKEN_PREFIX = "kvd_"  # noqa: S105 - a public prefix that marks our tokens (secret scanners), not a secret
MAX_ACTIVE_TOKENS = 20


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@sensitive_variables("raw")
def token_create(*, user: User, name: str, request: HttpRequest | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`; the raw value is returned once and never stored."""
    name = text.check_single_line(name, field="name")
    if not name or len(name) > 80:
        raise ValidationError(
            {"name": "Name the token (at most 80 characters), e.g. the script that uses it."}
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        # The user's row serialises two posts of the same form at once: the second finds the first token of that
        # name among the active ones and is refused (a double submit made two tokens).
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        active = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        if active.filter(name__iexact=name).exists():
            raise ValidationError(
                {"name": "You already have an active token with this name: revoke it or choose another name."}
            )
        if active.count() >= MAX_ACTIVE_TOKENS:
            raise ValidationError(
                {"name": f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first."}
            )
        token = ApiToken.objects.create(
            user=user, name=name, prefix=raw[:12], key_hash=hash_token(raw), created_at=timezone.now()
        )
    audit_record(
        actor=user,
        action="api_token.create",
        obj=token,
        after={"name": name, "prefix": token.prefix},
        request=request,
    )
    return token, raw


def token_revoke(*, user: User, token: ApiToken, request: HttpRequest | None = None) -> ApiToken:
    """Its owner, or a portal administrator, revokes a token; it stops working at once."""
    if not may_manage_token(user, token):
        raise PermissionDenied("Only the token's owner or an administrator revokes it.")
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by = timezone.now(), user
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=user, action="api_token.revoke", obj=token, after={"prefix": token.prefix}, request=request
        )
    return token
