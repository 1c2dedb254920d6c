"""`{% pending_element "kind" obj %}`: the element that shows a pending write-back and settles in place."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from portal.web import pending

register = template.Library()
_PAGE = "pending.page_context"


@register.simple_tag(takes_context=True)
def pending_element(context: Any, kind: str, obj: Any, scope: str = "", oob: bool = False) -> SafeString:
    # The page's values, flattened once per template (a list's fifty rows share them): an element's template reads
    # `obj`, what its kind adds and what the context processors gave, never the loop's own names.
    page = context.render_context.get(_PAGE)
    if page is None:
        page = context.render_context[_PAGE] = context.flatten()
    element = pending.render_element(
        context["request"], pending.kind_named(kind), obj, scope, oob=oob, page=page
    )
    return mark_safe(element)  # noqa: S308 - a rendered template
