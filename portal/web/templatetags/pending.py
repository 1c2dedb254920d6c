"""`{% pending_element "kind" obj %}`: the element that shows a pending write-back and settles in place."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from portal.web import pending

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_element(context: Any, kind: str, obj: Any, scope: str = "", oob: bool = False) -> SafeString:
    element = pending.render_element(
        context["request"], pending.kind_named(kind), obj, scope, oob=oob, page=context.flatten()
    )
    return mark_safe(element)  # noqa: S308 - a rendered template
