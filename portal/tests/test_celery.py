"""A real Celery worker process on Redis runs a task and writes to the shared database."""

from __future__ import annotations

import pytest

from portal.celery import ping


@pytest.mark.services
def test_task_round_trip_through_a_real_worker(celery_worker):
    result = ping.delay("hello")
    assert result.get(timeout=30) == "hello"
    assert celery_worker.running()
