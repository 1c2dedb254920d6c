"""Model fields shared across apps."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.db import models


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """JSON bytes: orjson, or the standard library for what orjson refuses (an integer over 64 bits, which Azure's
    free-form properties may hold); a value JSON has no type for is written as text."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, default=str).encode()


def _dumps(value: Any) -> str:
    return dumps(value).decode()


class FastJSONField(models.JSONField):
    """JSONField serialised with orjson, inserted with a plain placeholder.

    The plain placeholder also keeps Django's PostgreSQL bulk insert on multi-row VALUES instead of UNNEST arrays:
    with JSON columns, dumping the arrays of JSON text cost more than the insert itself (measured in bench/sync.py).
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or hasattr(value, "as_sql"):
            return super().get_db_prep_value(value, connection, prepared)
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb(value, dumps=_dumps)
        return _dumps(value)
