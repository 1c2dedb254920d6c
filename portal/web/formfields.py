"""Form widgets and fields every page form uses, so that a rule holds everywhere at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils import timezone

from portal import text


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
    return f"{value.year:04d}{value.strftime('-%m-%dT%H:%M')}"  # type: ignore[attr-defined]  # duck-typed: any date-like value (callers check year and strftime)


class SingleLineField(forms.CharField):
    """Names, titles, search terms: one line, no control characters (NUL included: PostgreSQL refuses it)."""

    def validate(self, value: object) -> None:
        super().validate(value)
        error = text.single_line_error(str(value or ""))
        if error:
            raise forms.ValidationError(error, code="control_characters")


class MultiLineField(forms.CharField):
    """Comments and feedback: several lines, no control characters but TAB, CR and LF."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(*args, **kwargs)

    def validate(self, value: object) -> None:
        super().validate(value)
        error = text.multi_line_error(str(value or ""))
        if error:
            raise forms.ValidationError(error, code="control_characters")


class BoundedIntegerField(forms.IntegerField):
    """An integer the database can hold (a 20-digit id overflowed SQLite's integer and raised OverflowError)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", text.INT_MIN)
        kwargs.setdefault("max_value", text.INT_MAX)
        super().__init__(*args, **kwargs)


class FourDigitYearMixin:
    """Dates the portal can show and put into URLs (always with a four-digit year, see `iso_minute`): a date-time
    must survive the conversion to UTC and back (year 1 or 9999 in some time zones overflows)."""

    def validate(self, value: Any) -> None:
        super().validate(value)  # type: ignore[misc]  # a mixin: the form field it is mixed into has validate
        if isinstance(value, datetime):
            try:
                timezone.localtime(value.astimezone(UTC))
            except (OverflowError, ValueError):
                raise forms.ValidationError("This date is out of range.", code="year") from None


class DateField(FourDigitYearMixin, forms.DateField):
    pass


class DateTimeField(FourDigitYearMixin, forms.DateTimeField):
    pass


class IdListField(forms.Field):
    """The ids of ticked rows (`ids=3&ids=7`): a list of database ids, at most `max_items` (more are dropped)."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *args: Any, max_items: int = 500, **kwargs: Any) -> None:
        self.max_items = max_items
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[int]:
        ids = []
        for item in value or []:
            try:
                number = int(item)
            except (TypeError, ValueError):
                raise forms.ValidationError("The selection was not valid.", code="invalid") from None
            if not text.INT_MIN <= number <= text.INT_MAX:
                raise forms.ValidationError("The selection was not valid.", code="invalid")
            ids.append(number)
        return ids[: self.max_items]


def cleaned(form: forms.Form, name: str, default: Any) -> Any:
    """A validated form's value for `name`, or `default` when it was left out or not valid (lenient GET
    parameters: a page drawn with its default beats an error page)."""
    form.is_valid()
    value = form.cleaned_data.get(name)
    return default if value in (None, "") else value
