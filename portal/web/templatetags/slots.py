"""`{% slot "name" obj %}`: draws the panels other apps registered for that place (portal.web.slots)."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from portal.web import slots

register = template.Library()


@register.simple_tag(takes_context=True)
def slot(context: template.Context, name: str, obj: Any = None) -> SafeString:
    request = context.get("request")
    parts = []
    for panel in slots.panels(name):
        assert isinstance(request, HttpRequest)  # slots are on pages, rendered with their request
        extra = panel.context(request, obj)
        if extra is None:
            continue
        assert context.template is not None  # a tag renders inside a template
        tpl = context.template.engine.get_template(panel.template)
        with context.push(**extra):
            parts.append(tpl.render(context))
    return mark_safe("".join(parts))  # noqa: S308 - each part is a template rendered with autoescape
