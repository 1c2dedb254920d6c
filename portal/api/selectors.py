"""Reads for API tokens."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from portal.api.models import ApiToken


def tokens_of(user: User) -> QuerySet[ApiToken]:
    """The tokens `user` owns (revoked ones included)."""
    return ApiToken.objects.filter(user=user)


def may_manage_token(user: User, token: ApiToken) -> bool:
    """Its owner, or a portal administrator, manages (revokes) a token."""
    return token.user_id == user.pk or user.is_superuser


def token_get_for_user(user: User, pk: int) -> ApiToken | None:
    """Token `pk` if `user` may manage it, else None (the caller answers 404: no hint it exists)."""
    token = ApiToken.objects.filter(pk=pk).first()
    return token if token is not None and may_manage_token(user, token) else None
