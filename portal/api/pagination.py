"""Cursor pagination (no COUNT(*), stable under inserts) for the API's lists."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination

from portal import text


class NewestFirst(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request: Any) -> Cursor | None:
        """DRF's cursor, whose position must be an id (a crafted `p=abc` reached the query and raised ValueError)."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                position = int(cursor.position)
            except (TypeError, ValueError):
                position = None
            if position is None or not text.INT_MIN <= position <= text.INT_MAX:
                raise ValidationError(
                    {"cursor": ["This page link is not valid. Start from the first page (without `cursor`)."]}
                )
        return cursor
