"""portal.db: the COPY text format the sync writes alerts with, and the one-statement UPDATE of many rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.db import copy_line, copy_text, update_rows
from portal.inventory.models import AzureConnection


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\\N"),
        (True, "t"),
        (False, "f"),
        (42, "42"),
        (0.5, "0.5"),
        ("plain", "plain"),
        ("a\\b\tc\nd\re", "a\\\\b\\tc\\nd\\re"),  # the backslash first, then the characters it escapes
        ('{"ua": "x\\\\u0000\\ty"}', '{"ua": "x\\\\\\\\u0000\\\\ty"}'),
        (datetime(2026, 12, 3, 12, 0, 1, 5, tzinfo=UTC), "2026-12-03T12:00:01.000005+00:00"),
    ],
)
def test_copy_text(value, text):
    assert copy_text(value) == text


def test_copy_line_and_what_it_refuses():
    assert copy_line([1, None, "x\ty"]) == b"1\t\\N\tx\\ty\n"
    with pytest.raises(TypeError):
        copy_text(object())


@pytest.mark.django_db
def test_update_rows_writes_each_row_its_own_values_in_one_statement(django_assert_num_queries):
    rows = [AzureConnection.objects.create(name=f"c{i}", tenant_id="t") for i in range(3)]
    for i, row in enumerate(rows):
        row.health_reason = f"reason {i}\twith a tab"
        row.is_healthy = i % 2 == 0
        row.health_checked_at = datetime(2026, 1, 1 + i, tzinfo=UTC)
    with django_assert_num_queries(1):
        assert update_rows(AzureConnection, rows, ["health_reason", "is_healthy", "health_checked_at"]) == 3
    for i, row in enumerate(AzureConnection.objects.order_by("name")):
        assert (row.health_reason, row.is_healthy, row.health_checked_at) == (
            f"reason {i}\twith a tab",
            i % 2 == 0,
            datetime(2026, 1, 1 + i, tzinfo=UTC),
        )
    assert update_rows(AzureConnection, [], ["health_reason"]) == 0
