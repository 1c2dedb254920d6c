"""The rules for text people type, in one place: every page form field, API serializer field and service uses them.

- Single-line text (names, titles, search terms): no control characters at all (NUL, CR, LF, TAB, DEL, C1...).
- Multi-line text (comments, feedback, rule comments): no control characters except TAB, CR and LF.
- Header-safe text (mail subjects built from attacker-controlled alert titles): control characters folded to spaces.

PostgreSQL refuses NUL in text (a DataError, a 500, and the work lost); CR/LF in a mail header is refused by Django
(BadHeaderError) and left the mail queued forever.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FOLD = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what every database the portal runs on stores in a bigint


def single_line_error(value: str) -> str | None:
    if _SINGLE_LINE_BAD.search(value):
        return "Use one line of text, without control characters."
    return None


def multi_line_error(value: str) -> str | None:
    if _MULTI_LINE_BAD.search(value):
        return "Remove the control characters from this text."
    return None


def check_single_line(value: str, *, field: str, max_length: int | None = None, label: str = "") -> str:
    """`value` stripped, or ValidationError({field: ...})."""
    value = (value or "").strip()
    error = single_line_error(value)
    if error is None and max_length is not None and len(value) > max_length:
        error = f"{label or 'This'} is too long: at most {max_length} characters."
    if error:
        raise ValidationError({field: error})
    return value


def check_multi_line(value: str, *, field: str, max_length: int | None = None, label: str = "") -> str:
    value = value or ""
    error = multi_line_error(value)
    if error is None and max_length is not None and len(value) > max_length:
        error = f"{label or 'This text'} is too long: at most {max_length} characters."
    if error:
        raise ValidationError({field: error})
    return value


def header_safe(value: str, *, max_length: int = 200) -> str:
    """Text that may go into a mail header (a subject): control characters folded into one space."""
    return _FOLD.sub(" ", value or "").strip()[:max_length]
