"""Form widgets and fields every page form uses, so that a rule holds everywhere at once."""

from __future__ import annotations

from django import forms


class IsoDateInput(forms.DateInput):
    """`<input type="date">`, whose value must be `yyyy-mm-dd` whatever the locale: a locale-formatted value
    ("30/06/2027") shows as an empty field in the browser, and saving the form then erased the date."""

    input_type = "date"

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")

    def format_value(self, value: object) -> str | None:
        if hasattr(value, "year") and hasattr(value, "strftime"):
            return f"{value.year:04d}{value.strftime('-%m-%d')}"  # strftime('%Y') drops the zeros of year 1
        return super().format_value(value)


class IsoDateTimeInput(forms.DateTimeInput):
    """`<input type="datetime-local">`, whose value must be `yyyy-mm-ddThh:mm`."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")

    def format_value(self, value: object) -> str | None:
        if hasattr(value, "year") and hasattr(value, "strftime"):
            return iso_minute(value)
        return super().format_value(value)


def iso_minute(value: object) -> str:
    """A datetime as `yyyy-mm-ddThh:mm` with a four-digit year (for inputs and URLs)."""
    return f"{value.year:04d}{value.strftime('-%m-%dT%H:%M')}"  # type: ignore[attr-defined]
