"""People's words for a rule's condition fields on the pages (the code stays in the form and the API)."""

from __future__ import annotations

from django import template

from suppression.rules import ALL_FIELDS

register = template.Library()


@register.filter
def condition_label(field: object) -> str:
    """`entities.ip.address` -> "IP address"; an unknown field is shown as it is."""
    return ALL_FIELDS.get(str(field).lower(), str(field))
