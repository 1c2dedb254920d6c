"""Set-based writes Django's ORM does not offer in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write `fields` of `objs` (saved rows) in one `UPDATE … FROM (VALUES …)` per 500 rows; returns rows updated.

    Django's `bulk_update` builds one `CASE WHEN id = … THEN …` per field and row: for a wide row (an alert has 45
    fields Azure owns) that costs more to build and to execute than the update itself. Here every row is one tuple
    of parameters, each cast to its column's type (PostgreSQL; SQLite ≥ 3.33 takes the same statement uncast).
    """
    if not objs:
        return 0
    concrete = [_column_field(model, name) for name in fields]
    pk = model._meta.pk
    assert pk is not None
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [pk, *concrete]
    postgres = connection.vendor == "postgresql"

    def placeholder(field: Any) -> str:
        return f"%s::{field.db_type(connection)}" if postgres else "%s"

    row_sql = "(" + ", ".join(placeholder(f) for f in columns) + ")"
    assignments = ", ".join(f"{_quoted_column(f)} = v.column{n}" for n, f in enumerate(concrete, start=2))
    updated = 0
    for start in range(0, len(objs), 500):
        chunk = objs[start : start + 500]
        params: list[Any] = []
        for obj in chunk:
            params.append(pk.get_db_prep_save(obj.pk, connection))
            for field in concrete:
                params.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
        sql = (
            f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS v "  # noqa: S608
            f"WHERE {table}.{_quoted_column(pk)} = v.column1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated


def _column_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # a field of the model's own row (not a reverse relation)
    return field


def _quoted_column(field: models.Field[Any, Any]) -> str:
    assert field.column is not None  # a concrete field: it has a column
    return connection.ops.quote_name(field.column)


def _escape(value: str) -> str:
    # str.replace per character present: several times faster than str.translate with a mapping on long text
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


def copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format (`\\N` for NULL; backslash, tab, newline and CR escaped)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, int | float):
        return repr(value)
    if hasattr(value, "isoformat"):  # date, aware datetime (ISO 8601 with its offset)
        return str(value.isoformat())
    raise TypeError(f"no COPY text form for {type(value).__name__}")


def copy_line(values: Sequence[Any]) -> bytes:
    """A row of `COPY … FROM STDIN` (text format), built without a database connection: the sync formats a
    batch's rows in its parsing thread and the writer thread only sends them."""
    return ("\t".join(copy_text(v) for v in values) + "\n").encode()
