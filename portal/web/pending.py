"""Pending write-backs settle in place: one mechanism for every state the portal writes back to Azure.

An app registers, at start-up, a kind of pending state: how to load the object for a user (its own access-checked
selector: another subscription's object is a 404) and whether it is still pending, and the template of the element
that shows it (a badge, a status box, a table row). The page renders that element with
`{% pending_element "kind" obj %}`; while the object is pending, the element carries `hx-get` to `web:pending` and
`hx-trigger="every 2s"`, and each poll answers the element rendered again. Once confirmed or failed, the element it
answers has no trigger, so the polling stops by itself. Without JavaScript the page shows the state as of its
load, and a reload shows the new one.

    register(PendingKind(name="plan-row", load=..., is_pending=..., template="<app>/_plan_row.html"))

The template receives `obj`, the request's context processors, `pending_attrs` (the htmx attributes, or an
empty string) to put on its outermost element, which must have a stable `id`, and `pending_scope` (a prefix for
that id, "" or e.g. "pane-"): the same object shown twice on a page (a list row and the side pane) is two elements
with two ids, `{% pending_element "kind" obj scope="pane" %}`, each polling for itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.web.http import AuthedRequest

POLL_SECONDS = 2


@dataclass(frozen=True)
class PendingKind:
    name: str
    load: Callable[[User, int], Any]  # (user, pk) -> the object, or Http404 / PermissionDenied
    is_pending: Callable[[Any], bool]
    template: str
    context: Callable[[User, Any], dict[str, Any]] | None = None  # (user, obj) -> more template context


_KINDS: dict[str, PendingKind] = {}


def register(kind: PendingKind) -> None:
    _KINDS[kind.name] = kind


def kind_named(name: str) -> PendingKind:
    kind = _KINDS.get(name)
    if kind is None:
        raise Http404("Unknown kind of pending state.")
    return kind


SCOPE_RE = re.compile(r"^[a-z][a-z0-9]{0,19}$")


def pending_attrs(kind: PendingKind, obj: Any, scope: str = "") -> SafeString:
    if not kind.is_pending(obj):
        return SafeString("")
    url = reverse("web:pending", args=[kind.name, obj.pk])
    if scope:
        url += "?" + urlencode({"scope": scope})
    return format_html(
        'hx-get="{}" hx-trigger="every {}s" hx-swap="outerHTML" data-pending="{}"',
        url,
        POLL_SECONDS,
        kind.name,
    )


def render_element(
    request: AuthedRequest,
    kind: PendingKind,
    obj: Any,
    scope: str = "",
    *,
    oob: bool = False,
    page: dict[str, Any] | None = None,
) -> str:
    """The element (pages with one are for signed-in users only). `oob`: marked for htmx's out-of-band swap, so a
    response about the object elsewhere on the page (the side pane's status change) replaces this copy too.
    `page`: the flattened context of the page being drawn, whose context processors already ran (fifty rows of a
    list each running them again cost the list half its time); without it (a poll), the request's own."""
    if scope and not SCOPE_RE.match(scope):
        raise ValueError(f"Not a pending scope: {scope!r}")
    context: dict[str, Any] = {
        "obj": obj,
        "pending_attrs": SafeString(pending_attrs(kind, obj, scope) + (' hx-swap-oob="true"' if oob else "")),
        "pending_scope": f"{scope}-" if scope else "",
    }
    if kind.context is not None:
        context.update(kind.context(request.user, obj))
    if page is not None:
        return render_to_string(kind.template, {**page, **context})
    return render_to_string(kind.template, context, request=request)
