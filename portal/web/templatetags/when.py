"""One date-time format everywhere: "2 Dec 2026, 13:27 UTC" in the user's time zone (the browser's by default, or
the one chosen in Preferences), the relative time ("3 h ago") on hover, ISO 8601 in the `datetime` attribute.
CSV, JSON and the API keep ISO 8601; mails use `when_text` (UTC, no markup). A builtin: no `{% load %}` needed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from portal.web.when import as_text, relative

register = template.Library()


@register.filter
def when(value: datetime | date | None) -> SafeString | str:
    """A <time> element: the formatted time, ISO 8601 in `datetime`, the relative time as its tooltip."""
    if value is None or value == "":
        return ""
    if not isinstance(value, datetime):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), as_text(value))
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        if timezone.is_aware(value)
        else value.isoformat(),
        relative(value) if timezone.is_aware(value) else "",
        as_text(value),
    )


@register.filter
def when_text(value: datetime | date | None) -> str:
    """Plain text in UTC, for mails (their readers' time zones are not known)."""
    return as_text(value, UTC)


@register.filter
def when_date(value: datetime | date | None) -> SafeString | str:
    """The date alone, same format, as a <time> element."""
    if value is None or value == "":
        return ""
    day = timezone.localdate(value) if isinstance(value, datetime) and timezone.is_aware(value) else value
    if isinstance(day, datetime):
        day = day.date()
    return format_html('<time datetime="{}">{}</time>', day.isoformat()[:10], as_text(day))
