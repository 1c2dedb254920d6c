"""Typed request for views (STYLE: a request class declaring `user` and `htmx`)."""

from __future__ import annotations

from typing import Protocol

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class AuthedRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


def safe_next(request: HttpRequest, candidate: str | None, *, default: str) -> str:
    """Where to go after an action: `candidate` (a `next` from the query or a form) when it stays on this site,
    else `default`. The one check every `next` goes through (an off-site `next` is an open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


class _WithUser(Protocol):
    user: User | AnonymousUser


def signed_in_user(request: _WithUser) -> User:
    """The person behind a request that only a signed-in user reaches: a page behind login_required, an API view
    (IsAuthenticated, DRF's default permission here, never overridden), the admin (signed-in staff only)."""
    user = request.user
    assert isinstance(user, User), "reached without signing in"
    return user
