"""Typed request for views (STYLE: a request class declaring `user` and `htmx`)."""

from __future__ import annotations

from django.contrib.auth.models import User
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
