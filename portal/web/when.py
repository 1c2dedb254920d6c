"""The portal's one date-time format: "2 Dec 2026, 13:27 UTC" in the active time zone (the user's), and the relative
time ("3 h ago") shown on hover. The format itself is DATETIME_FORMAT / DATE_FORMAT in portal/formats (the admin
reads it there too). Templates use the `when` filters (portal/web/templatetags/when.py)."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, timezone


def relative(value: datetime, now: datetime | None = None) -> str:
    """ "3 h ago", "in 5 min", "just now": the largest whole unit."""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for size, unit in ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            n = seconds // size
            return f"in {n} {unit}" if future else f"{n} {unit} ago"
    return "just now"


def as_text(value: datetime | date | None, tz: object = None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = timezone.localtime(value, tz) if timezone.is_aware(value) else value  # type: ignore[arg-type]  # tz: a tzinfo or None
        return formats.date_format(local, "DATETIME_FORMAT")
    return formats.date_format(value, "DATE_FORMAT")
